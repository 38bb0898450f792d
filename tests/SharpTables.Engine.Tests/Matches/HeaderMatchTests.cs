using SharpTables.Rules.Extensions.Set;
using SharpTables.Rules.Model;
using static SharpTables.Engine.Tests.Matches.Outcome;

namespace SharpTables.Engine.Tests.Matches;

/// <summary>
/// Matches on IP header fields and packet metadata: iprange, comment, mac, length, ttl, tos,
/// dscp, pkttype, mark and set, with the kernel modules' semantics (xt_iprange, xt_mac,
/// xt_length, xt_hl, xt_dscp, xt_pkttype; mark as nftables' native meta mark compare).
/// </summary>
public class HeaderMatchTests
{
    private static Outcome Run(string rule, string packet, Action<Packet>? setup = null, Hook hook = Hook.Input)
    {
        var p = RuleUnderTest.Load(packet, hook);
        setup?.Invoke(p);
        return RuleUnderTest.Matches(rule, chain: hook == Hook.PreRouting ? "PREROUTING" : "INPUT",
            table: hook == Hook.PreRouting ? "mangle" : "filter")(p);
    }

    [Theory]
    [InlineData("-m iprange --src-range 198.51.100.1-198.51.100.9", "udp src=198.51.100.9", Match)]
    [InlineData("-m iprange --src-range 198.51.100.1-198.51.100.9", "udp src=198.51.100.10", NoMatch)]
    [InlineData("-m iprange ! --src-range 198.51.100.1-198.51.100.9", "udp src=198.51.100.10", Match)]
    [InlineData("-m iprange --dst-range 10.0.0.0-10.255.255.255", "udp dst=10.200.0.1", Match)]
    [InlineData("-m iprange --src-range 198.51.100.1-198.51.100.9 --dst-range 10.0.0.1", "udp src=198.51.100.2 dst=10.0.0.2", NoMatch)]
    [InlineData("-m iprange --src-range 198.51.100.1-198.51.100.9 ! --dst-range 10.0.0.1", "udp src=198.51.100.2 dst=10.0.0.2", Match)]
    // a reversed range never matches (iptables warns), inverted it always does
    [InlineData("-m iprange --src-range 198.51.100.9-198.51.100.1", "udp src=198.51.100.5", NoMatch)]
    [InlineData("-m iprange ! --src-range 198.51.100.9-198.51.100.1", "udp src=198.51.100.5", Match)]
    public void Iprange(string rule, string packet, Outcome expected) => Assert.Equal(expected, Run(rule, packet));

    [Theory]
    [InlineData("-m length --length 28", "udp", Match)]
    [InlineData("-m length --length 29:1500", "udp", NoMatch)]
    [InlineData("-m length ! --length 29:1500", "udp", Match)]
    [InlineData("-m length --length 40:", "tcp payload=1", Match)]
    // the length is the IP header's, not the bytes captured (padding does not count)
    [InlineData("-m length --length 28", "udp trail=18", Match)]
    [InlineData("-m length --length 500:10", "udp", NoMatch)]
    public void Length(string rule, string packet, Outcome expected) => Assert.Equal(expected, Run(rule, packet));

    [Theory]
    [InlineData("-m ttl --ttl-eq 64", "udp ttl=64", Match)]
    [InlineData("-m ttl ! --ttl-eq 64", "udp ttl=64", NoMatch)]
    [InlineData("-m ttl ! --ttl-eq 64", "udp ttl=63", Match)]
    [InlineData("-m ttl --ttl-lt 64", "udp ttl=63", Match)]
    [InlineData("-m ttl --ttl-lt 64", "udp ttl=64", NoMatch)]
    [InlineData("-m ttl --ttl-gt 64", "udp ttl=65", Match)]
    [InlineData("-m ttl --ttl-gt 255", "udp ttl=255", NoMatch)]
    public void Ttl(string rule, string packet, Outcome expected) => Assert.Equal(expected, Run(rule, packet));

    [Theory]
    [InlineData("-m tos --tos 0x10", "udp tos=10", Match)]
    [InlineData("-m tos --tos 0x10", "udp tos=11", NoMatch)]
    [InlineData("-m tos --tos 0x10/0xfe", "udp tos=11", Match)]
    [InlineData("-m tos ! --tos Minimize-Delay", "udp tos=10", NoMatch)]
    // a symbolic value carries the mask 0x3f: the precedence bits are ignored
    [InlineData("-m tos --tos Minimize-Delay", "udp tos=d0", Match)]
    [InlineData("-m dscp --dscp 0x2e", "udp tos=b8", Match)]
    [InlineData("-m dscp --dscp 0x2e", "udp tos=bb", Match)]
    [InlineData("-m dscp --dscp-class EF", "udp tos=b4", NoMatch)]
    [InlineData("-m dscp ! --dscp 0", "udp tos=03", NoMatch)]
    [InlineData("-m dscp --dscp 0x2e", "udp tos=b8 v6", Match)]
    public void Tos_and_dscp(string rule, string packet, Outcome expected)
    {
        var family = packet.Contains(" v6") ? Family.IPv6 : Family.IPv4;
        Assert.Equal(expected, RuleUnderTest.Matches(rule, family: family)(RuleUnderTest.Load(packet)));
    }

    [Theory]
    [InlineData("-m comment --comment 'anything at all'", Match)]
    public void Comment_always_matches(string rule, Outcome expected) => Assert.Equal(expected, Run(rule, "tcp frag=1 l4=0"));

    [Theory]
    [InlineData("-m mark --mark 0x5", 5u, Match)]
    [InlineData("-m mark --mark 0x5", 4u, NoMatch)]
    [InlineData("-m mark --mark 0x1/0x3", 0x101u, Match)]
    [InlineData("-m mark --mark 0x1/0x3", 0x103u, NoMatch)]
    [InlineData("-m mark ! --mark 0x1/0x3", 0x103u, Match)]
    [InlineData("-m mark --mark 0", 0u, Match)]
    public void Mark(string rule, uint mark, Outcome expected) => Assert.Equal(expected, Run(rule, "udp", p => p.Mark = mark));

    private static readonly byte[] ClientMac = [0x02, 0x67, 0x67, 0x2d, 0x00, 0x01];

    [Theory]
    [InlineData("-m mac --mac-source 02:67:67:2d:00:01", "eth0", true, Match)]
    [InlineData("-m mac --mac-source 02:67:67:2D:00:02", "eth0", true, NoMatch)]
    [InlineData("-m mac ! --mac-source 02:67:67:2d:00:02", "eth0", true, Match)]
    // no Ethernet header (or lo, not ARPHRD_ETHER): no match, inverted or not
    [InlineData("-m mac ! --mac-source 02:67:67:2d:00:02", "eth0", false, NoMatch)]
    [InlineData("-m mac ! --mac-source 02:67:67:2d:00:02", "lo", true, NoMatch)]
    public void Mac(string rule, string inIface, bool withHeader, Outcome expected)
    {
        var network = new HostNetwork();
        var iface = inIface == "lo" ? network.Find("lo")! : network.Add(inIface, [2, 0x67, 0x67, 0x2d, 0, 2]);
        Assert.Equal(expected, Run(rule, "udp", p =>
        {
            p.In = iface;
            if (withHeader) p.SetMacHeader([2, 0x67, 0x67, 0x2d, 0, 2, .. ClientMac, 0x08, 0x00]);
        }));
    }

    [Theory]
    [InlineData("host", PacketType.Host, "udp", Match)]
    [InlineData("unicast", PacketType.Broadcast, "udp", NoMatch)]
    [InlineData("broadcast", PacketType.Broadcast, "udp", Match)]
    [InlineData("otherhost", PacketType.OtherHost, "udp", Match)]
    [InlineData("! --pkt-type host", PacketType.Multicast, "udp", Match)]
    // PACKET_LOOPBACK: multicast for IPv6 or an IPv4 multicast destination, broadcast otherwise
    [InlineData("broadcast", PacketType.Loopback, "udp dst=198.51.100.255", Match)]
    [InlineData("broadcast", PacketType.Loopback, "udp dst=198.51.100.1", Match)]
    [InlineData("multicast", PacketType.Loopback, "udp dst=224.0.0.251", Match)]
    [InlineData("host", PacketType.Loopback, "udp dst=198.51.100.1", NoMatch)]
    public void Pkttype(string type, PacketType actual, string packet, Outcome expected)
    {
        string rule = type.StartsWith('!') ? "-m pkttype " + type : "-m pkttype --pkt-type " + type;
        Assert.Equal(expected, Run(rule, packet, p => p.PktType = actual));
    }

    [Fact]
    public void Pkttype_loopback_ipv6_is_multicast()
    {
        var p = RuleUnderTest.Load("udp v6");
        p.PktType = PacketType.Loopback;
        Assert.Equal(Match, RuleUnderTest.Matches("-m pkttype --pkt-type multicast", family: Family.IPv6)(p));
    }

    [Theory]
    [InlineData("-m set --match-set blocked src", NoMatch)]
    [InlineData("-m set ! --match-set blocked src,dst", Match)]
    public void Set_without_contents_behaves_as_an_empty_set(string rule, Outcome expected)
    {
        var saved = IpSetRegistry.Current;
        IpSetRegistry.Current = new IpSetRegistry.Fixed([new IpSetInfo(0, "blocked", Family.IPv4)]);
        try
        {
            Assert.Equal(expected, Run(rule, "udp"));
        }
        finally
        {
            IpSetRegistry.Current = saved;
        }
    }
}
