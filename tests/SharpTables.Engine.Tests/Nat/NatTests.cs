using System.Buffers.Binary;
using SharpTables.Engine.Conntrack;
using SharpTables.Engine.Nat;
using SharpTables.Engine.Tests.Conntrack;
using SharpTables.Packets;
using static SharpTables.Engine.Tests.Conntrack.TestPackets;

namespace SharpTables.Engine.Tests.Nat;

/// <summary>
/// NAT against the real kernel: router-nat example (DNAT 8080 → 203.0.113.2:80, MASQUERADE on
/// eth1, ICMP error translated back) and an oracle run with SNAT address ranges and a two-port range
/// (/tmp rules: "-A POSTROUTING -o eth1 -p udp --dport 53 -j SNAT --to-source 203.0.113.10-203.0.113.20", …).
/// </summary>
public class NatTests
{
    private const string Client = "198.51.100.2", Backend = "203.0.113.2";

    private static (uint Src, uint Dst, ushort Sport, ushort Dport) Addresses(Packet p) =>
        ((uint)p.Info.Source, (uint)p.Info.Destination, p.Info.SourcePort, p.Info.DestinationPort);

    [Fact]
    public void Dnat_and_masquerade_rewrite_both_directions()
    {
        var h = new Harness();
        var dnat = h.NatRule("PREROUTING", "-i", "eth0", "-p", "tcp", "--dport", "8080", "-j", "DNAT", "--to-destination", "203.0.113.2:80");
        var masq = h.NatRule("POSTROUTING", "-o", "eth1", "-j", "MASQUERADE");

        Assert.True(h.Forward(Tcp(Client, "198.51.100.1", 41662, 8080, Syn, seq: 1000), h.Eth0, h.Eth1, dnat, masq));
        Assert.Equal((Ip("203.0.113.1"), Ip(Backend), (ushort)41662, (ushort)80), Addresses(h.P));
        Assert.True(ChecksumsValid(h.P.Bytes));
        var ct = h.P.Conn!;
        Assert.True(ct.Has(ConnStatus.SrcNat | ConnStatus.DstNat | ConnStatus.SrcNatDone | ConnStatus.DstNatDone));

        Assert.True(h.Forward(Tcp(Backend, "203.0.113.1", 80, 41662, Syn | Ack, seq: 5000, ack: 1001), h.Eth1, h.Eth0, dnat, masq));
        Assert.Equal(CtInfo.EstablishedReply, h.P.CtInfo);
        Assert.Equal((Ip("198.51.100.1"), Ip(Client), (ushort)8080, (ushort)41662), Addresses(h.P));
        Assert.True(ChecksumsValid(h.P.Bytes));

        h.Time.AdvanceMilliseconds(100);
        // router-nat.result.legacy.json: the DNAT connection's tuples
        Assert.Equal(["ipv4 2 tcp 6 59 SYN_RECV src=198.51.100.2 dst=198.51.100.1 sport=41662 dport=8080 src=203.0.113.2 dst=203.0.113.1 sport=80 dport=41662 mark=0 zone=0 use=2"], h.Proc());
    }

    [Fact]
    public void Masqueraded_dns_and_the_icmp_error_about_it()
    {
        var h = new Harness();
        var masq = h.NatRule("POSTROUTING", "-o", "eth1", "-j", "MASQUERADE");
        var query = Udp(Client, Backend, 40100, 53);
        Assert.True(h.Forward(query, h.Eth0, h.Eth1, post: masq));
        var sent = h.P.Bytes.ToArray();
        Assert.Equal((Ip("203.0.113.1"), Ip(Backend), (ushort)40100, (ushort)53), Addresses(h.P));
        h.Time.AdvanceMilliseconds(100);
        // router-nat.result.legacy.json
        Assert.Equal(["ipv4 2 udp 17 29 src=198.51.100.2 dst=203.0.113.2 sport=40100 dport=53 [UNREPLIED] src=203.0.113.2 dst=203.0.113.1 sport=53 dport=40100 mark=0 zone=0 use=2"], h.Proc());

        // the backend's port unreachable quotes the masqueraded packet; it is RELATED and goes back to the client
        Assert.True(h.Forward(IcmpError(Backend, "203.0.113.1", 3, 3, sent), h.Eth1, h.Eth0, post: masq));
        Assert.Equal(CtInfo.RelatedReply, h.P.CtInfo);
        var b = h.P.Bytes;
        Assert.Equal(Ip(Client), BinaryPrimitives.ReadUInt32BigEndian(b[16..]));
        Assert.Equal(Ip(Backend), BinaryPrimitives.ReadUInt32BigEndian(b[12..]));
        var inner = b[28..];
        Assert.Equal(Ip(Client), BinaryPrimitives.ReadUInt32BigEndian(inner[12..]));
        Assert.Equal(40100, BinaryPrimitives.ReadUInt16BigEndian(inner[20..]));
        Assert.True(ChecksumsValid(b));
        Assert.Equal(0xffff, Fold(inner[..20]));
    }

    private static int Fold(ReadOnlySpan<byte> d)
    {
        ulong s = 0;
        for (int i = 0; i < d.Length; i += 2) s += (uint)(d[i] << 8 | d[i + 1]);
        while (s >> 16 != 0) s = (s & 0xffff) + (s >> 16);
        return (int)s;
    }

    [Theory]
    // oracle run: SNAT --to-source 203.0.113.10-203.0.113.20 picked these addresses (find_best_ips_proto's jhash2)
    [InlineData("198.51.100.2", "203.0.113.2", false, "203.0.113.10")]
    [InlineData("198.51.100.3", "203.0.113.2", false, "203.0.113.12")]
    [InlineData("198.51.100.7", "203.0.113.2", false, "203.0.113.19")]
    [InlineData("198.51.100.7", "203.0.113.9", true, "203.0.113.13")]
    public void Snat_address_range_choice_matches_the_kernel_hash(string src, string dst, bool persistent, string expected)
    {
        var h = new Harness();
        string[] rule = ["-o", "eth1", "-p", "udp", "-j", "SNAT", "--to-source", "203.0.113.10-203.0.113.20"];
        var snat = h.NatRule("POSTROUTING", persistent ? [.. rule, "--persistent"] : rule);
        Assert.True(h.Forward(Udp(src, dst, 40100, 53), h.Eth0, h.Eth1, post: snat));
        Assert.Equal(Ip(expected), (uint)h.P.Info.Source);
    }

    [Fact]
    public void Same_source_keeps_its_mapping_for_other_destinations()
    {
        // oracle run: 198.51.100.7:40100 got .19 towards 203.0.113.2 and again towards 203.0.113.9 (find_appropriate_src)
        var h = new Harness();
        var snat = h.NatRule("POSTROUTING", "-o", "eth1", "-p", "udp", "-j", "SNAT", "--to-source", "203.0.113.10-203.0.113.20");
        Assert.True(h.Forward(Udp("198.51.100.7", Backend, 40100, 53), h.Eth0, h.Eth1, post: snat));
        Assert.True(h.Forward(Udp("198.51.100.7", "203.0.113.9", 40100, 53), h.Eth0, h.Eth1, post: snat));
        Assert.Equal(Ip("203.0.113.19"), (uint)h.P.Info.Source);
    }

    [Fact]
    public void Port_range_is_searched_and_a_full_range_drops_at_confirm()
    {
        // oracle run: --to-source 203.0.113.1:2000-2001: ports 2000 and 2001, the third flow has no entry
        var h = new Harness();
        var snat = h.NatRule("POSTROUTING", "-o", "eth1", "-p", "udp", "-j", "SNAT", "--to-source", "203.0.113.1:2000-2001");
        Assert.True(h.Forward(Udp(Client, Backend, 40200, 55), h.Eth0, h.Eth1, post: snat));
        Assert.Equal(2000, h.P.Info.SourcePort);
        Assert.True(h.Forward(Udp(Client, Backend, 40201, 55), h.Eth0, h.Eth1, post: snat));
        Assert.Equal(2001, h.P.Info.SourcePort);
        Assert.False(h.Forward(Udp(Client, Backend, 40202, 55), h.Eth0, h.Eth1, post: snat));
        Assert.Equal(2, h.Table.Count);
    }

    [Fact]
    public void Masquerade_clash_moves_the_source_port_into_the_unprivileged_range()
    {
        // oracle run: a second client with the same source port got another port (27863 there: random)
        var h = new Harness();
        var masq = h.NatRule("POSTROUTING", "-o", "eth1", "-p", "tcp", "-j", "MASQUERADE");
        Assert.True(h.Forward(Tcp(Client, Backend, 43000, 80, Syn), h.Eth0, h.Eth1, post: masq));
        Assert.Equal(43000, h.P.Info.SourcePort);
        Assert.True(h.Forward(Tcp("198.51.100.3", Backend, 43000, 80, Syn), h.Eth0, h.Eth1, post: masq));
        Assert.NotEqual(43000, h.P.Info.SourcePort);
        Assert.InRange(h.P.Info.SourcePort, (ushort)1024, (ushort)65535);
        Assert.True(ChecksumsValid(h.P.Bytes));
        Assert.Equal(2, h.Table.Count);
    }

    [Fact]
    public void Redirect_goes_to_the_in_interface_or_loopback()
    {
        var h = new Harness();
        var redirect = h.NatRule("PREROUTING", "-p", "tcp", "--dport", "80", "-j", "REDIRECT", "--to-ports", "3128");
        Assert.True(h.Forward(Tcp(Client, "192.0.2.80", 40300, 80, Syn), h.Eth0, h.Eth1, redirect));
        Assert.Equal((Ip(Client), Ip("198.51.100.1"), (ushort)40300, (ushort)3128), Addresses(h.P));

        var local = h.NatRule("OUTPUT", "-p", "tcp", "--dport", "80", "-j", "REDIRECT", "--to-ports", "3128");
        h.P.Load(Tcp("198.51.100.1", "192.0.2.80", 40301, 80, Syn));
        h.P.Hook = Rules.Model.Hook.Output;
        Assert.True(h.Table.In(h.P));
        Assert.True(h.State.Nat.NeedsChain(h.P, Rules.Model.Hook.Output));
        Assert.Equal(TargetVerdict.Accept, local.Execute(h.P, new TargetContext(h.State, "nat", "OUTPUT", 1)));
        Assert.True(h.State.Nat.Complete(h.P, Rules.Model.Hook.Output));
        Assert.Equal(0x7f000001u, (uint)h.P.Info.Destination);
    }

    [Fact]
    public void Masquerade_out_of_an_interface_without_an_address_borrows_one_and_drops_only_when_the_host_has_none()
    {
        // Checked in a netns of our own (veth d1 10.9.0.1/24, veth d2 without an address, a route
        // out of d2, "-o d2 -j MASQUERADE"): a packet from 172.16.5.5 left d2 as 10.9.0.1.
        // inet_select_addr falls back to the first global address of any interface.
        var h = new Harness();
        var bare = h.Network.Add("eth2");
        var masq = h.NatRule("POSTROUTING", "-j", "MASQUERADE");
        Assert.True(h.Forward(Udp(Client, Backend, 40400, 53), h.Eth0, bare, post: masq));
        Assert.Equal(Ip("198.51.100.1"), (uint)h.P.Info.Source);

        h.Eth0.IPv4.Clear();
        h.Eth1.IPv4.Clear();
        Assert.False(h.Forward(Udp(Client, Backend, 40401, 53), h.Eth0, bare, post: masq)); // "eth2 ate my IP address"
    }

    [Fact]
    public void Gre_shorter_than_a_pptp_header_cannot_be_natted_and_is_dropped()
    {
        // Differential corpus (seed31006-b0135 case 5): a bare IP header with protocol 47, sent by
        // the host and DNATed in nat OUTPUT, never reached filter OUTPUT (sendto: EPERM).
        // gre_manip_pkt needs 8 bytes of GRE before it rewrites anything.
        var h = new Harness();
        var masq = h.NatRule("POSTROUTING", "-o", "eth1", "-j", "MASQUERADE");
        Assert.False(h.Forward(Ipv4Packet(Client, Backend, IpProtocol.Gre, [], -1), h.Eth0, h.Eth1, post: masq));
        Assert.False(h.Forward(Ipv4Packet(Client, Backend, IpProtocol.Gre, [0x00, 0x00, 0x08, 0x00], -1), h.Eth0, h.Eth1, post: masq));

        // A GREv1 (PPTP) packet with its header is NATed; the source manip leaves the call id alone.
        byte[] pptp = [0x30, 0x01, 0x88, 0x0b, 0x00, 0x00, 0x12, 0x34];
        Assert.True(h.Forward(Ipv4Packet(Client, Backend, IpProtocol.Gre, pptp, -1), h.Eth0, h.Eth1, post: masq));
        Assert.Equal(Ip("203.0.113.1"), (uint)h.P.Info.Source);
        Assert.Equal(0x1234, BinaryPrimitives.ReadUInt16BigEndian(h.P.Bytes[26..]));
    }

    [Fact]
    public void Masquerade_out_of_lo_takes_the_first_global_address_of_the_host()
    {
        // Differential corpus (seed31006-b0072): a packet the host sent to itself over lo, masqueraded
        // by "! -o eth1 -j MASQUERADE", still matched "-s 198.51.100.0/24" in INPUT. 127.0.0.1 has
        // host scope, so inet_select_addr passes over it to eth0's address.
        var h = new Harness();
        var lo = h.Network.Find("lo")!;
        var masq = h.NatRule("POSTROUTING", "!", "-o", "eth1", "-j", "MASQUERADE");
        Assert.True(h.Forward(Udp("198.51.100.186", "198.51.100.1", 123, 9999), h.Eth0, lo, post: masq));
        Assert.Equal(Ip("198.51.100.1"), (uint)h.P.Info.Source);
    }

    [Fact]
    public void Only_the_first_packet_runs_the_nat_chain()
    {
        var h = new Harness();
        var masq = h.NatRule("POSTROUTING", "-o", "eth1", "-j", "MASQUERADE");
        Assert.True(h.Forward(Udp(Client, Backend, 40500, 53), h.Eth0, h.Eth1, post: masq));
        h.P.Load(Udp(Client, Backend, 40500, 53));
        h.P.Hook = Rules.Model.Hook.PreRouting;
        h.Table.In(h.P);
        Assert.False(h.State.Nat.NeedsChain(h.P, Rules.Model.Hook.PreRouting));
        Assert.False(h.State.Nat.NeedsChain(h.P, Rules.Model.Hook.PostRouting));
    }

    [Fact]
    public void Null_binding_remaps_a_local_source_port_that_a_masqueraded_flow_already_uses()
    {
        // nf_nat_used_tuple: the host's own flow 203.0.113.1:40600 -> backend would receive the masqueraded flow's replies
        var h = new Harness();
        var masq = h.NatRule("POSTROUTING", "-o", "eth1", "-j", "MASQUERADE");
        Assert.True(h.Forward(Udp(Client, Backend, 40600, 53), h.Eth0, h.Eth1, post: masq));
        h.P.Load(Udp("203.0.113.1", Backend, 40600, 53));
        h.P.Hook = Rules.Model.Hook.Output;
        h.P.Out = h.Eth1;
        Assert.True(h.Table.In(h.P));
        Assert.True(h.State.Nat.Complete(h.P, Rules.Model.Hook.Output));
        h.P.Hook = Rules.Model.Hook.PostRouting;
        Assert.True(h.State.Nat.Complete(h.P, Rules.Model.Hook.PostRouting));
        Assert.NotEqual(40600, h.P.Info.SourcePort);
        Assert.True(h.Table.Confirm(h.P));
    }
}
