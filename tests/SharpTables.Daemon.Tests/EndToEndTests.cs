using System.Net;
using System.Net.Sockets;
using static SharpTables.Daemon.Tests.NetnsLab;

namespace SharpTables.Daemon.Tests;

/// <summary>
/// sharptablesd judging real kernel traffic between network namespaces: the expectations are
/// what the ruleset means in the kernel (ACCEPT delivers, DROP stays silent so the connection
/// times out, REJECT --reject-with tcp-reset makes connect() fail with ECONNREFUSED even though a
/// listener is there, icmp-port-unreachable makes a connected UDP socket fail), and what the
/// kernel does with a queue nobody listens on (drop, or accept with --queue-bypass).
/// </summary>
[Collection("netns")]
public sealed class EndToEndTests
{
    private const string Header = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n";

    private const string RejectRules = Header +
        "-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT\n" +
        "-A INPUT -p tcp -j REJECT --reject-with tcp-reset\n" +
        "-A INPUT -p udp -m udp --dport 53 -j ACCEPT\n" +
        "-A INPUT -p udp -m udp --dport 5000 -j REJECT --reject-with icmp-port-unreachable\n" +
        "-A INPUT -p udp -j DROP\n" +
        "COMMIT\n";

    private const string DropRules = Header +
        "-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT\n" +
        "-A INPUT -p tcp -j DROP\n" +
        "COMMIT\n";

    [NetnsFact]
    public void Accepted_port_connects_and_rejected_port_is_refused_despite_a_listener()
    {
        using var lab = new NetnsLab();
        using var web = Listen(lab.Fw, IPAddress.Any, 80);
        using var ssh = Listen(lab.Fw, IPAddress.Any, 22);
        using var d = lab.StartDaemon(RejectRules);

        Assert.Equal(ConnectResult.Connected, Connect(lab.Client, FwAddress, 80));
        Assert.Equal(ConnectResult.Refused, Connect(lab.Client, FwAddress, 22));
        Assert.Equal(0, ssh.Accepted);
        Assert.Equal(0, d.Terminate());
        Assert.Contains("replies=1 ", d.Output);
    }

    [NetnsFact]
    public void Dropped_port_times_out()
    {
        using var lab = new NetnsLab();
        using var web = Listen(lab.Fw, IPAddress.Any, 80);
        using var ssh = Listen(lab.Fw, IPAddress.Any, 22);
        using var d = lab.StartDaemon(DropRules);

        Assert.Equal(ConnectResult.Connected, Connect(lab.Client, FwAddress, 80));
        Assert.Equal(ConnectResult.TimedOut, Connect(lab.Client, FwAddress, 22, timeoutMs: 1200));
        Assert.Equal(0, ssh.Accepted);
    }

    [NetnsFact]
    public void Udp_datagrams_are_delivered_dropped_or_rejected_as_the_rules_say()
    {
        using var lab = new NetnsLab();
        using var dns = UdpReceiver(lab.Fw, 53);
        using var other = UdpReceiver(lab.Fw, 5353);
        using var rejected = UdpReceiver(lab.Fw, 5000);
        using var d = lab.StartDaemon(RejectRules);
        using var client = Socket(lab.Client, AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);

        client.SendTo("to-53"u8.ToArray(), new IPEndPoint(FwAddress, 53));
        client.SendTo("to-5353"u8.ToArray(), new IPEndPoint(FwAddress, 5353));
        Assert.Equal("to-53", ReceiveText(dns, 2000));
        Assert.Null(ReceiveText(other, 500));

        // A connected UDP socket learns of ICMP port unreachable as ECONNREFUSED.
        using var connected = Socket(lab.Client, AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        connected.Connect(new IPEndPoint(FwAddress, 5000));
        connected.ReceiveTimeout = 2000;
        connected.Send("to-5000"u8);
        var e = Assert.Throws<SocketException>(() => connected.Receive(new byte[16]));
        Assert.Equal(SocketError.ConnectionRefused, e.SocketErrorCode);
        Assert.Null(ReceiveText(rejected, 200));
    }

    [NetnsFact]
    public void Stateful_rules_see_both_directions_of_a_connection()
    {
        // INPUT and OUTPUT both DROP by policy; only conntrack lets the replies through, so the
        // engine has to see the packets of both directions (INPUT and OUTPUT are diverted).
        const string rules = "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT DROP [0:0]\n" +
            "-A INPUT -i lo -j ACCEPT\n" +
            "-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT\n" +
            "-A INPUT -p tcp -m tcp --dport 80 -m state --state NEW -j ACCEPT\n" +
            "-A OUTPUT -o lo -j ACCEPT\n" +
            "-A OUTPUT -m state --state RELATED,ESTABLISHED -j ACCEPT\n" +
            "COMMIT\n";
        using var lab = new NetnsLab();
        using var web = Listen(lab.Fw, IPAddress.Any, 80);
        using var clientSide = Listen(lab.Client, IPAddress.Any, 8080);
        using var local = Listen(lab.Fw, IPAddress.Loopback, 9000);
        using var d = lab.StartDaemon(rules);
        Assert.Contains("IPv4 diverted at All", d.Output);

        Assert.Equal(ConnectResult.Connected, Connect(lab.Client, FwAddress, 80));
        Assert.Equal(ConnectResult.TimedOut, Connect(lab.Fw, ClientAddress, 8080, timeoutMs: 1200));
        Assert.Equal(0, clientSide.Accepted);
        Assert.Equal(ConnectResult.Connected, Connect(lab.Fw, IPAddress.Loopback, 9000));
    }

    [NetnsFact]
    public void Forwarded_traffic_is_judged_in_forward()
    {
        const string rules = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n" +
            "-A FORWARD -m state --state RELATED,ESTABLISHED -j ACCEPT\n" +
            "-A FORWARD -i eth0 -o eth1 -p tcp -m tcp --dport 80 -j ACCEPT\n" +
            "-A FORWARD -p tcp -j REJECT --reject-with tcp-reset\n" +
            "COMMIT\n";
        using var lab = new NetnsLab(backend: true);
        using var web = Listen(lab.Backend!, IPAddress.Any, 80);
        using var ssh = Listen(lab.Backend!, IPAddress.Any, 22);
        using var d = lab.StartDaemon(rules);

        Assert.Equal(ConnectResult.Connected, Connect(lab.Client, BackendAddress, 80));
        Assert.Equal(ConnectResult.Refused, Connect(lab.Client, BackendAddress, 22));
        Assert.Equal(0, ssh.Accepted);
        // The backend may not open connections towards the client (FORWARD policy DROP, REJECT for tcp).
        using var clientSide = Listen(lab.Client, IPAddress.Any, 80);
        Assert.Equal(ConnectResult.Refused, Connect(lab.Backend!, ClientAddress, 80));
    }

    [NetnsFact]
    public void Ipv6_is_judged_by_rules_v6()
    {
        const string rules6 = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n" +
            "-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT\n" +
            "-A INPUT -p tcp -j REJECT --reject-with tcp-reset\n" +
            "COMMIT\n";
        using var lab = new NetnsLab(ipv6: true);
        using var web = Listen(lab.Fw, IPAddress.IPv6Any, 80);
        using var ssh = Listen(lab.Fw, IPAddress.IPv6Any, 22);
        using var ssh4 = Listen(lab.Fw, IPAddress.Any, 22);
        using var d = lab.StartDaemon6(Header + "COMMIT\n", rules6);
        Assert.Contains("IPv4 diverted at None, IPv6 at Input", d.Output);
        Assert.Contains("SHARPTABLESD", lab.Exec(lab.Fw, "ip6tables", "-S", "INPUT"));

        Assert.Equal(ConnectResult.Connected, Connect(lab.Client, FwAddress6, 80));
        Assert.Equal(ConnectResult.Refused, Connect(lab.Client, FwAddress6, 22));
        Assert.Equal(0, ssh.Accepted);
        // IPv4 has no rules, so it is not diverted at all.
        Assert.Equal(ConnectResult.Connected, Connect(lab.Client, FwAddress, 22));
        Assert.Equal(0, d.Terminate());
        Assert.DoesNotContain("SHARPTABLESD", lab.Exec(lab.Fw, "ip6tables", "-S"));
    }

    [NetnsFact]
    public void Killed_daemon_fails_closed()
    {
        using var lab = new NetnsLab();
        using var web = Listen(lab.Fw, IPAddress.Any, 80);
        using var d = lab.StartDaemon(DropRules);
        Assert.Equal(ConnectResult.Connected, Connect(lab.Client, FwAddress, 80));

        d.Kill();
        Assert.Contains("SHARPTABLESD", lab.Exec(lab.Fw, "iptables", "-S", "INPUT"));
        Assert.Equal(ConnectResult.TimedOut, Connect(lab.Client, FwAddress, 80, timeoutMs: 1200));
    }

    [NetnsFact]
    public void Killed_daemon_with_fail_open_lets_everything_pass()
    {
        using var lab = new NetnsLab();
        using var web = Listen(lab.Fw, IPAddress.Any, 80);
        using var ssh = Listen(lab.Fw, IPAddress.Any, 22);
        using var d = lab.StartDaemon(DropRules, "--fail-open");
        Assert.Equal(ConnectResult.TimedOut, Connect(lab.Client, FwAddress, 22, timeoutMs: 1200));

        d.Kill();
        Assert.Equal(ConnectResult.Connected, Connect(lab.Client, FwAddress, 80));
        Assert.Equal(ConnectResult.Connected, Connect(lab.Client, FwAddress, 22));
    }

    [NetnsFact]
    public void Stopping_removes_exactly_the_diversion()
    {
        using var lab = new NetnsLab();
        // A rule of the system's own, which must survive.
        lab.Exec(lab.Fw, "iptables", "-A", "INPUT", "-p", "icmp", "-j", "ACCEPT");
        using var ssh = Listen(lab.Fw, IPAddress.Any, 22);
        using var d = lab.StartDaemon(DropRules);
        Assert.Equal(ConnectResult.TimedOut, Connect(lab.Client, FwAddress, 22, timeoutMs: 1200));

        Assert.Equal(0, d.Terminate());
        Assert.Contains("sharptablesd: stopped:", d.Output);
        var after = lab.Exec(lab.Fw, "iptables", "-S");
        Assert.DoesNotContain("SHARPTABLESD", after);
        Assert.Contains("-A INPUT -p icmp -j ACCEPT", after);
        Assert.Equal(ConnectResult.Connected, Connect(lab.Client, FwAddress, 22));
    }

    [NetnsFact]
    public void Several_queues_share_the_flows()
    {
        using var lab = new NetnsLab(extraClientAddresses: 7);
        using var web = Listen(lab.Fw, IPAddress.Any, 80);
        using var dns = UdpReceiver(lab.Fw, 53);
        using var d = lab.StartDaemon(RejectRules, "--queue", "3", "--queues", "2");
        Assert.Contains("--queue-balance 3:4", lab.Exec(lab.Fw, "iptables", "-S", Diversion.ChainName));

        // --queue-balance hashes source, destination and protocol: 8 sources x 2 protocols spread over both queues.
        for (int i = 0; i < 8; i++)
        {
            var from = IPAddress.Parse($"198.51.100.{2 + i}");
            Assert.Equal(ConnectResult.Connected, Connect(lab.Client, FwAddress, 80, from: from));
            using var u = Socket(lab.Client, AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            u.Bind(new IPEndPoint(from, 0));
            u.SendTo("x"u8.ToArray(), new IPEndPoint(FwAddress, 53));
            Assert.Equal("x", ReceiveText(dns, 2000));
        }
        var queued = lab.QueuedPackets();
        Assert.True(queued.GetValueOrDefault(3) > 0 && queued.GetValueOrDefault(4) > 0, $"queued per queue: {string.Join(", ", queued)}");
    }

    private static Socket UdpReceiver(string ns, int port)
    {
        var s = Socket(ns, AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(IPAddress.Any, port));
        return s;
    }

    private static string? ReceiveText(Socket s, int timeoutMs)
    {
        if (!s.Poll(timeoutMs * 1000, SelectMode.SelectRead)) return null;
        var buf = new byte[256];
        int n = s.Receive(buf);
        return System.Text.Encoding.ASCII.GetString(buf, 0, n);
    }
}
