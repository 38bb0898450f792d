using System.Net;
using System.Net.Sockets;
using static SharpTables.Daemon.Tests.NetnsLab;

namespace SharpTables.Daemon.Tests;

/// <summary>
/// sharptablesd enforcing NAT and mangle rewrites on real kernel traffic: the engine's rewritten
/// packets go back to the kernel (payload verdicts), DNAT/REDIRECT happen before the kernel's
/// routing (PREROUTING diversion), and a new source is put in after it. Expectations are what the
/// rules mean in the kernel: a REDIRECTed or DNATed connection reaches the listener it names and
/// its replies come back from the address and port the client asked for; behind MASQUERADE/SNAT
/// the backend sees the router's address. TTLs and sources on the wire are compared with what the
/// kernel's own iptables produces for the same rules in a second, identical set of namespaces.
/// </summary>
[Collection("netns")]
public sealed class NatTests
{
    private const string Nat = "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n";
    private static readonly IPAddress RouterBackendSide = IPAddress.Parse("203.0.113.1");

    [NetnsFact]
    public void Redirect_reaches_the_local_port_and_the_replies_come_from_the_port_asked_for()
    {
        using var lab = new NetnsLab();
        using var web = Listen(lab.Fw, IPAddress.Any, 80);
        using var d = lab.StartDaemon(Nat + "-A PREROUTING -p tcp -m tcp --dport 8080 -j REDIRECT --to-ports 80\nCOMMIT\n");

        // Connect() talks both ways: the greeting and the echo only reach a socket connected to :8080
        // if the replies leave with source port 8080 again.
        Assert.Equal(ConnectResult.Connected, Connect(lab.Client, FwAddress, 8080));
        Assert.Equal(1, web.Accepted);
        Assert.Contains("IPv4 diverted at Output, PreRouting, SourceNat", d.Output);
        Assert.Equal(0, d.Terminate());
        Assert.Matches("rewritten=[1-9]", d.Output);
    }

    [NetnsFact]
    public void Redirect_works_for_ipv6_through_ip6tables()
    {
        using var lab = new NetnsLab(ipv6: true);
        using var web = Listen(lab.Fw, IPAddress.IPv6Any, 80);
        using var d = lab.StartDaemon6("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n",
            Nat + "-A PREROUTING -p tcp -m tcp --dport 8080 -j REDIRECT --to-ports 80\nCOMMIT\n");

        Assert.Equal(ConnectResult.Connected, Connect(lab.Client, FwAddress6, 8080));
        Assert.Equal(1, web.Accepted);
        Assert.Contains("SHARPTABLESD", lab.Exec(lab.Fw, "ip6tables", "-t", "raw", "-S", "PREROUTING"));
    }

    [NetnsFact]
    public void Dnat_on_a_router_reaches_the_backend_which_sees_the_client()
    {
        using var lab = new NetnsLab(backend: true);
        using var backend = Listen(lab.Backend!, IPAddress.Any, 8080);
        using var d = lab.StartDaemon(Nat +
            "-A PREROUTING -d 198.51.100.1/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 203.0.113.2:8080\nCOMMIT\n");

        Assert.Equal(ConnectResult.Connected, Connect(lab.Client, FwAddress, 80));
        Assert.Equal(1, backend.Accepted);
        Assert.Equal(ClientAddress, backend.LastPeer?.Address);

        // Fail-closed: once the daemon is gone, the diverted packets are dropped.
        d.Kill();
        Assert.Equal(ConnectResult.TimedOut, Connect(lab.Client, FwAddress, 80, timeoutMs: 1200));
    }

    [NetnsFact]
    public void Masquerade_hides_the_client_behind_the_router()
    {
        using var lab = new NetnsLab(backend: true);
        // Without a route back to the client, only the router's de-NAT gets the replies there.
        Ip("-n", lab.Backend!, "route", "del", "default");
        using var backend = Listen(lab.Backend!, IPAddress.Any, 80);
        using var d = lab.StartDaemon(Nat + "-A POSTROUTING -o eth1 -j MASQUERADE\nCOMMIT\n");

        Assert.Equal(ConnectResult.Connected, Connect(lab.Client, BackendAddress, 80));
        Assert.Equal(RouterBackendSide, backend.LastPeer?.Address);
    }

    [NetnsFact]
    public void Dnat_and_snat_together_rewrite_both_addresses_both_ways()
    {
        using var lab = new NetnsLab(backend: true);
        Ip("-n", lab.Backend!, "route", "del", "default");
        using var backend = Listen(lab.Backend!, IPAddress.Any, 8080);
        using var d = lab.StartDaemon(Nat +
            "-A PREROUTING -d 198.51.100.1/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 203.0.113.2:8080\n" +
            "-A POSTROUTING -o eth1 -j SNAT --to-source 203.0.113.1\nCOMMIT\n",
            // Two queues: --queue-balance hashes the addresses, so the second pass of a packet
            // (other destination) may well be answered by the other queue's worker.
            "--queue", "3", "--queues", "2");

        for (int i = 0; i < 3; i++) Assert.Equal(ConnectResult.Connected, Connect(lab.Client, FwAddress, 80));
        Assert.Equal(3, backend.Accepted);
        Assert.Equal(RouterBackendSide, backend.LastPeer?.Address);
        var queued = lab.QueuedPackets();
        Assert.True(queued.GetValueOrDefault(3) > 0 && queued.GetValueOrDefault(4) > 0, $"queued per queue: {string.Join(", ", queued)}");
    }

    [NetnsFact]
    public void A_datagram_whose_ttl_runs_out_at_the_router_gets_time_exceeded()
    {
        using var lab = new NetnsLab(backend: true);
        using var d = lab.StartDaemon(Nat + "-A POSTROUTING -o eth1 -j MASQUERADE\nCOMMIT\n");
        using var icmp = Socket(lab.Client, AddressFamily.InterNetwork, SocketType.Raw, ProtocolType.Icmp);
        using var udp = Socket(lab.Client, AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        udp.Ttl = 1;
        udp.SendTo("x"u8.ToArray(), new IPEndPoint(BackendAddress, 9));

        // ip_forward answers a packet it cannot forward any further with ICMP time exceeded (type 11);
        // diverted at PREROUTING, the engine's forwarding sends it (through the daemon's raw socket).
        var buf = new byte[1500];
        var deadline = DateTime.UtcNow.AddSeconds(2);
        bool seen = false;
        while (!seen && DateTime.UtcNow < deadline)
        {
            if (!icmp.Poll(100_000, SelectMode.SelectRead)) continue;
            int n = icmp.Receive(buf);
            int ihl = (buf[0] & 0xf) * 4;
            seen = n > ihl && buf[ihl] == 11 && new IPAddress(buf.AsSpan(12, 4)).Equals(FwAddress);
        }
        Assert.True(seen, "no ICMP time exceeded from the router");
    }

    [NetnsFact]
    public void Nat_mode_replies_to_reject_and_a_restart_after_kill_then_a_stop_leaves_the_tables_as_they_were()
    {
        using var lab = new NetnsLab();
        // Rules of the system's own in the tables the diversion uses, which must survive.
        lab.Exec(lab.Fw, "iptables", "-t", "raw", "-A", "PREROUTING", "-p", "icmp", "-j", "ACCEPT");
        lab.Exec(lab.Fw, "iptables", "-t", "mangle", "-A", "POSTROUTING", "-p", "icmp", "-j", "ACCEPT");
        var before = Tables(lab);
        using var web = Listen(lab.Fw, IPAddress.Any, 80);
        using var ssh = Listen(lab.Fw, IPAddress.Any, 22);
        const string rules = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n" +
            "-A INPUT -p tcp -m tcp --dport 22 -j REJECT --reject-with tcp-reset\nCOMMIT\n" +
            Nat + "-A PREROUTING -p tcp -m tcp --dport 8080 -j REDIRECT --to-ports 80\nCOMMIT\n";
        using var killed = lab.StartDaemon(rules);
        killed.Kill();
        Assert.NotEqual(before, Tables(lab));

        // The next start replaces what the killed daemon left in every table.
        using var d = lab.RestartDaemon(killed.StateDir);
        Assert.Equal(ConnectResult.Connected, Connect(lab.Client, FwAddress, 8080));
        Assert.Equal(ConnectResult.Refused, Connect(lab.Client, FwAddress, 22));
        Assert.Equal(0, ssh.Accepted);
        Assert.Equal(0, d.Terminate());
        // The RST went out once: the daemon's own reply is not queued again at OUTPUT or POSTROUTING.
        Assert.Contains("replies=1 ", d.Output);
        Assert.Equal(before, Tables(lab));
    }

    private static string Tables(NetnsLab lab) =>
        string.Concat(new[] { "raw", "mangle", "nat", "filter" }.Select(t => lab.Exec(lab.Fw, "iptables", "-t", t, "-S")));

    private const string MangleHeader = "*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n";

    [NetnsFact]
    public void Ttl_set_in_mangle_postrouting_is_on_the_wire()
    {
        var rules = MangleHeader + "-A POSTROUTING -j TTL --ttl-set 5\nCOMMIT\n";
        var kernel = KernelView(rules);
        Assert.Equal((5, "198.51.100.2", 5, "198.51.100.1"), kernel);
        Assert.Equal(kernel, DaemonView(rules));
    }

    [NetnsFact]
    public void Ttl_set_in_mangle_prerouting_is_decremented_once_by_forwarding()
    {
        var rules = MangleHeader + "-A PREROUTING -i eth0 -j TTL --ttl-set 5\nCOMMIT\n";
        var kernel = KernelView(rules);
        Assert.Equal((4, "198.51.100.2", 64, "198.51.100.1"), kernel);
        Assert.Equal(kernel, DaemonView(rules));
    }

    [NetnsFact]
    public void A_masqueraded_datagram_leaves_with_the_routers_address_and_one_hop_less()
    {
        var rules = Nat + "-A POSTROUTING -o eth1 -j MASQUERADE\nCOMMIT\n";
        var kernel = KernelView(rules);
        Assert.Equal((63, "203.0.113.1", 64, "198.51.100.1"), kernel);
        Assert.Equal(kernel, DaemonView(rules));
    }

    /// <summary>
    /// What the kernel's own iptables puts on the wire: TTL and source of a datagram from the
    /// client through fw to the backend, and of one fw sends to the client.
    /// </summary>
    private static (int, string?, int, string?) KernelView(string rules)
    {
        using var lab = new NetnsLab(backend: true);
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, rules);
            lab.Exec(lab.Fw, "iptables-restore", file);
        }
        finally { File.Delete(file); }
        return WireView(lab);
    }

    /// <summary>The same with sharptablesd judging (nothing else in fw's firewall).</summary>
    private static (int, string?, int, string?) DaemonView(string rules)
    {
        using var lab = new NetnsLab(backend: true);
        using var d = lab.StartDaemon(rules);
        return WireView(lab);
    }

    private static (int, string?, int, string?) WireView(NetnsLab lab)
    {
        using var atBackend = Socket(lab.Backend!, AddressFamily.InterNetwork, SocketType.Raw, ProtocolType.Udp);
        using var atClient = Socket(lab.Client, AddressFamily.InterNetwork, SocketType.Raw, ProtocolType.Udp);
        using var fromClient = Socket(lab.Client, AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        using var fromFw = Socket(lab.Fw, AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        fromClient.SendTo("forwarded"u8.ToArray(), new IPEndPoint(BackendAddress, 9));
        fromFw.SendTo("local"u8.ToArray(), new IPEndPoint(ClientAddress, 9));
        var (ttl1, src1) = Seen(atBackend, "forwarded"u8.ToArray());
        var (ttl2, src2) = Seen(atClient, "local"u8.ToArray());
        return (ttl1, src1, ttl2, src2);
    }

    /// <summary>TTL and source of the first UDP datagram carrying <paramref name="data"/> a raw socket sees ((-1, null): none within 2 s).</summary>
    private static (int Ttl, string? Source) Seen(Socket raw, byte[] data)
    {
        var buf = new byte[2048];
        var deadline = DateTime.UtcNow.AddSeconds(2);
        while (DateTime.UtcNow < deadline)
        {
            if (!raw.Poll(100_000, SelectMode.SelectRead)) continue;
            int n = raw.Receive(buf);
            int ihl = (buf[0] & 0xf) * 4;
            if (n >= ihl + 8 + data.Length && buf.AsSpan(ihl + 8, n - ihl - 8).SequenceEqual(data))
                return (buf[8], new IPAddress(buf.AsSpan(12, 4)).ToString());
        }
        return (-1, null);
    }
}
