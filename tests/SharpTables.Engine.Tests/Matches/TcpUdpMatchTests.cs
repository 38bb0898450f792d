using static SharpTables.Engine.Tests.Matches.Outcome;

namespace SharpTables.Engine.Tests.Matches;

/// <summary>
/// The tcp and udp matches as the nf_tables kernel evaluates what iptables-nft 1.8.9 loads:
/// native payload compares for ports and flags (no hotdrop, fragments read as they are), the
/// xt_tcp/xt_udp modules for <c>--tcp-option</c> and condition-less matches (hotdrop on a short
/// header or an offset-1 fragment). Lines marked "oracle" were run through the real kernel
/// (oracle-run --backend nft, kernel 6.18) with the same rule and packet.
/// </summary>
public class TcpUdpMatchTests
{
    [Theory]
    // ports and ranges
    [InlineData("-p tcp --dport 22", "tcp dport=22", Match)]
    [InlineData("-p tcp --dport 22", "tcp dport=23", NoMatch)]
    [InlineData("-p tcp ! --dport 22", "tcp dport=23", Match)]
    [InlineData("-p tcp --sport 1000:2000", "tcp sport=2000", Match)]
    [InlineData("-p tcp --sport 1000:2000", "tcp sport=2001", NoMatch)]
    [InlineData("-p tcp ! --sport :1000", "tcp sport=1000", NoMatch)]
    [InlineData("-p tcp ! --sport :1000", "tcp sport=1001", Match)]
    [InlineData("-p tcp ! --sport 5:1000", "tcp sport=4", Match)]
    [InlineData("-p tcp --sport 0", "tcp sport=0", Match)]
    // both ports single and inverted: one 32-bit "!=" compare, so EITHER differing port matches
    // (oracle: sport 1000 dport 81 matched "! --sport 1000 ! --dport 80")
    [InlineData("-p tcp ! --sport 1000 ! --dport 80", "tcp sport=1000 dport=80", NoMatch)]
    [InlineData("-p tcp ! --sport 1000 ! --dport 80", "tcp sport=1000 dport=81", Match)]
    [InlineData("-p tcp ! --sport 1000 ! --dport 80", "tcp sport=1001 dport=81", Match)]
    [InlineData("-p tcp --sport 1000 ! --dport 80", "tcp sport=1000 dport=80", NoMatch)]
    [InlineData("-p tcp --sport 1000 ! --dport 80", "tcp sport=1001 dport=81", NoMatch)]
    // an inverted full range emits nothing: the match tests nothing
    [InlineData("-p tcp -m tcp ! --sport 0:65535", "tcp sport=5", Match)]
    // flags (oracle: webhost rules, NULL / XMAS / SYN / ACK packets)
    [InlineData("-p tcp --tcp-flags FIN,SYN,RST,PSH,ACK,URG NONE", "tcp flags=NONE", Match)]
    [InlineData("-p tcp --tcp-flags FIN,SYN,RST,PSH,ACK,URG NONE", "tcp flags=A", NoMatch)]
    [InlineData("-p tcp --tcp-flags ALL ALL", "tcp flags=FSRPAU", Match)]
    [InlineData("-p tcp --tcp-flags ALL ALL", "tcp flags=FPU", NoMatch)]
    [InlineData("-p tcp --syn", "tcp flags=S", Match)]
    [InlineData("-p tcp --syn", "tcp flags=SA", NoMatch)]
    [InlineData("-p tcp --syn", "tcp flags=SPEC", Match)]
    [InlineData("-p tcp ! --syn", "tcp flags=A", Match)]
    [InlineData("-p tcp ! --syn", "tcp flags=S", NoMatch)]
    [InlineData("-p tcp ! --tcp-flags FIN,SYN,RST,ACK SYN", "tcp flags=NONE", Match)]
    [InlineData("-p tcp --syn --dport 22", "tcp flags=S dport=23", NoMatch)]
    // a zero mask emits no flags expression, whatever the compare value
    // (oracle: "--tcp-flags NONE SYN" matched SYN, SYN-less ACK and NULL packets)
    [InlineData("-p tcp --tcp-flags NONE SYN", "tcp flags=A", Match)]
    [InlineData("-p tcp --tcp-flags NONE SYN", "tcp flags=NONE", Match)]
    public void Tcp(string rule, string packet, Outcome expected) =>
        Assert.Equal(expected, RuleUnderTest.Matches(rule)(RuleUnderTest.Load(packet)));

    [Theory]
    // native ports do not look at the fragment offset (oracle: "-p tcp --dport 80" matched
    // IPv4 fragments with offset 1 and 2 carrying port 80 in their first bytes)
    [InlineData("-p tcp --dport 80", "tcp dport=80 frag=1", Match)]
    [InlineData("-p tcp --dport 80", "tcp dport=80 frag=2", Match)]
    [InlineData("-p tcp ! --dport 80", "tcp dport=80 frag=2", NoMatch)]
    // xt_tcp: offset 1 is dropped, other fragments just do not match
    // (oracle: "-m tcp --tcp-option 2" stopped the traversal on frag=1; frag=2 went on)
    [InlineData("-p tcp --tcp-option 2", "tcp dport=80 frag=1", HotDrop)]
    [InlineData("-p tcp --tcp-option 2", "tcp dport=80 frag=2", NoMatch)]
    [InlineData("-p tcp -m tcp", "tcp frag=1", HotDrop)]
    [InlineData("-p tcp -m tcp", "tcp frag=3", NoMatch)]
    [InlineData("-p tcp -m multiport --dports 80", "tcp dport=80 frag=1", NoMatch)]
    // IPv6 counts the offset in bytes: never 1
    [InlineData("-p tcp -m tcp", "tcp v6 frag=1", NoMatch)]
    public void Tcp_fragments(string rule, string packet, Outcome expected)
    {
        var family = packet.Contains(" v6") ? Rules.Model.Family.IPv6 : Rules.Model.Family.IPv4;
        Assert.Equal(expected, RuleUnderTest.Matches(rule, family: family)(RuleUnderTest.Load(packet)));
    }

    [Theory]
    // native loads past the end fail quietly
    [InlineData("-p tcp --dport 80", "tcp dport=80 l4=4", Match)]
    [InlineData("-p tcp --dport 80", "tcp dport=80 l4=3", NoMatch)]
    [InlineData("-p tcp --sport 40000", "tcp l4=2", Match)]
    [InlineData("-p tcp --syn", "tcp l4=13", NoMatch)]
    [InlineData("-p tcp --syn", "tcp l4=14", Match)]
    // xt_tcp needs the 20-byte header and, with --tcp-option, the whole option area
    [InlineData("-p tcp -m tcp", "tcp l4=19", HotDrop)]
    [InlineData("-p tcp -m tcp", "tcp l4=20", Match)]
    [InlineData("-p tcp --tcp-option 2", "tcp opts=02040218 l4=22", HotDrop)]
    [InlineData("-p tcp --tcp-option 2", "tcp doff=4", HotDrop)]
    [InlineData("-p tcp ! --tcp-option 2", "tcp doff=4", HotDrop)]
    // the xt form does not look at doff without --tcp-option
    [InlineData("-p tcp -m tcp", "tcp doff=4", Match)]
    public void Tcp_short_headers(string rule, string packet, Outcome expected) =>
        Assert.Equal(expected, RuleUnderTest.Matches(rule)(RuleUnderTest.Load(packet)));

    [Theory]
    // (oracle: --tcp-option 2 matched a SYN with MSS, ! --tcp-option 2 one without options)
    [InlineData("-p tcp --tcp-option 2", "tcp opts=020405b4", Match)]
    [InlineData("-p tcp --tcp-option 2", "tcp", NoMatch)]
    [InlineData("-p tcp ! --tcp-option 2", "tcp", Match)]
    [InlineData("-p tcp ! --tcp-option 2", "tcp opts=020405b4", NoMatch)]
    // NOP, window scale, then SACK-permitted: the walk steps over each option
    [InlineData("-p tcp --tcp-option 4", "tcp opts=0103030704020000", Match)]
    [InlineData("-p tcp --tcp-option 8", "tcp opts=0103030704020000", NoMatch)]
    // a zero length counts as 1, so the walk goes on byte by byte
    [InlineData("-p tcp --tcp-option 5", "tcp opts=0300050000000000", Match)]
    // EOL (0) does not end the walk
    [InlineData("-p tcp --tcp-option 3", "tcp opts=0000030300000000", Match)]
    [InlineData("-p tcp --tcp-option 2 --dport 80", "tcp dport=81 opts=020405b4", NoMatch)]
    public void Tcp_options(string rule, string packet, Outcome expected) =>
        Assert.Equal(expected, RuleUnderTest.Matches(rule)(RuleUnderTest.Load(packet)));

    [Theory]
    [InlineData("-p udp --dport 53", "udp dport=53", Match)]
    [InlineData("-p udp --dport 53", "udp dport=54", NoMatch)]
    [InlineData("-p udp --sport 1024:", "udp sport=1023", NoMatch)]
    [InlineData("-p udp ! --sport :1023", "udp sport=1024", Match)]
    [InlineData("-p udp ! --sport :1023", "udp sport=1023", NoMatch)]
    [InlineData("-p udp --sport 67 --dport 68", "udp sport=67 dport=68", Match)]
    [InlineData("-p udp --sport 67 --dport 68", "udp sport=67 dport=69", NoMatch)]
    // the model's InvertAsPair: either differing port matches (oracle: same quirk as tcp)
    [InlineData("-p udp ! --sport 1 ! --dport 2", "udp sport=1 dport=3", Match)]
    [InlineData("-p udp ! --sport 1 ! --dport 2", "udp sport=1 dport=2", NoMatch)]
    [InlineData("-p udp -m udp ! --dport 0:65535", "udp", Match)]
    // native: no hotdrop, fragments read as they are
    [InlineData("-p udp --dport 53", "udp dport=53 l4=3", NoMatch)]
    [InlineData("-p udp --dport 53", "udp dport=53 frag=5", Match)]
    // xt_udp (no condition): short header dropped, fragments never match
    [InlineData("-p udp -m udp", "udp l4=7", HotDrop)]
    [InlineData("-p udp -m udp", "udp", Match)]
    [InlineData("-p udp -m udp", "udp frag=1", NoMatch)]
    public void Udp(string rule, string packet, Outcome expected) =>
        Assert.Equal(expected, RuleUnderTest.Matches(rule)(RuleUnderTest.Load(packet)));

    [Fact]
    public void Udp_model_records_the_pair_quirk_the_engine_implements()
    {
        var m = Assert.IsType<Rules.Extensions.Udp.UdpMatch>(RuleUnderTest.Parse("-p udp ! --sport 1 ! --dport 2").Matches[0]);
        Assert.True(m.InvertAsPair);
    }

    [Fact]
    public void Trailing_link_padding_is_not_part_of_the_packet()
    {
        // 20 bytes IP + 19 bytes "TCP" + padding: ip_rcv trims the skb to the IP total length
        var p = RuleUnderTest.Load("tcp l4=19 trail=10");
        Assert.Equal(HotDrop, RuleUnderTest.Matches("-p tcp -m tcp")(p));
    }

    [Theory]
    [InlineData("tcp dport=22 v6", Match)]
    [InlineData("tcp dport=23 v6", NoMatch)]
    public void Tcp_over_ipv6(string packet, Outcome expected) =>
        Assert.Equal(expected, RuleUnderTest.Matches("-p tcp --dport 22", family: Rules.Model.Family.IPv6)(RuleUnderTest.Load(packet)));

    [Theory]
    [InlineData("-p icmp --icmp-type echo-request", "icmp type=8", Match)]
    [InlineData("-p icmp --icmp-type echo-request", "icmp type=0", NoMatch)]
    [InlineData("-p icmp ! --icmp-type echo-request", "icmp type=0", Match)]
    [InlineData("-p icmp --icmp-type any", "icmp type=13 code=7", Match)]
    [InlineData("-p icmp ! --icmp-type any", "icmp type=13", NoMatch)]
    [InlineData("-p icmp --icmp-type 3/3", "icmp type=3 code=3", Match)]
    [InlineData("-p icmp --icmp-type 3/3", "icmp type=3 code=1", NoMatch)]
    [InlineData("-p icmp --icmp-type 3/1:3", "icmp type=3 code=2", Match)]
    [InlineData("-p icmp --icmp-type destination-unreachable", "icmp type=3 code=13", Match)]
    [InlineData("-p icmp --icmp-type port-unreachable", "icmp type=3 code=13", NoMatch)]
    [InlineData("-p icmp --icmp-type echo-request", "icmp type=8 frag=1", NoMatch)]
    [InlineData("-p icmp ! --icmp-type echo-request", "icmp type=0 frag=1", NoMatch)]
    [InlineData("-p icmp --icmp-type echo-request", "icmp type=8 l4=7", HotDrop)]
    public void Icmp(string rule, string packet, Outcome expected) =>
        Assert.Equal(expected, RuleUnderTest.Matches(rule)(RuleUnderTest.Load(packet)));

    [Theory]
    [InlineData("-p tcp -m multiport --dports 22,80,443", "tcp dport=80", Match)]
    [InlineData("-p tcp -m multiport --dports 22,80,443", "tcp dport=81", NoMatch)]
    [InlineData("-p tcp -m multiport --dports 1000:2000,80", "tcp dport=1500", Match)]
    [InlineData("-p tcp -m multiport --sports 1000:2000", "tcp sport=999 dport=1500", NoMatch)]
    [InlineData("-p tcp -m multiport --ports 53", "tcp sport=53 dport=9", Match)]
    [InlineData("-p tcp -m multiport --ports 53", "tcp sport=9 dport=53", Match)]
    [InlineData("-p tcp -m multiport --ports 1:10", "tcp sport=40000 dport=11", NoMatch)]
    [InlineData("-p tcp -m multiport ! --dports 22,80", "tcp dport=80", NoMatch)]
    [InlineData("-p tcp -m multiport ! --dports 22,80", "tcp dport=81", Match)]
    [InlineData("-p tcp -m multiport ! --ports 22", "tcp sport=22 dport=80", NoMatch)]
    [InlineData("-p udp -m multiport --dports 53", "udp dport=53", Match)]
    // it reads the first four bytes whatever the protocol, and needs all four
    [InlineData("-p tcp -m multiport --dports 80", "tcp dport=80 l4=4", Match)]
    [InlineData("-p tcp -m multiport --dports 80", "tcp dport=80 l4=3", HotDrop)]
    [InlineData("-p tcp -m multiport ! --dports 80", "tcp dport=80 frag=2", NoMatch)]
    public void Multiport(string rule, string packet, Outcome expected) =>
        Assert.Equal(expected, RuleUnderTest.Matches(rule)(RuleUnderTest.Load(packet)));
}
