using System.Buffers.Binary;
using SharpTables.Engine.Tests.Matches;
using SharpTables.Rules.Model;

namespace SharpTables.Engine.Tests.Targets;

/// <summary>
/// The header-rewriting targets: DSCP, TOS, TTL (xt_DSCP, xt_HL) and TCPMSS. Every rewritten
/// packet must carry valid checksums, checked here by recomputing them from scratch.
/// </summary>
public class MangleTargetTests
{
    private static Packet Run(string rule, string packet, Family family = Family.IPv4, EngineState? state = null,
        Action<Packet>? setup = null, TargetVerdict verdict = TargetVerdict.Continue)
    {
        var p = RuleUnderTest.Load(packet, Hook.Forward);
        setup?.Invoke(p);
        Assert.Equal(verdict, RuleUnderTest.Target(rule, state, family: family)(p));
        return p;
    }

    private static void AssertChecksumsValid(Packet p)
    {
        var bytes = p.Bytes.ToArray();
        if (p.Info.IsIPv4) Assert.True(Pkt.Ipv4ChecksumOk(bytes), "IPv4 header checksum");
        if (p.Info.Protocol == 6)
            Assert.Equal(Pkt.TransportChecksum(bytes), BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(p.Info.TransportOffset + 16)));
    }

    [Theory]
    [InlineData("-j DSCP --set-dscp 0x2e", "00", 0xb8)]
    [InlineData("-j DSCP --set-dscp 0x2e", "03", 0xbb)] // the ECN bits stay
    [InlineData("-j DSCP --set-dscp-class AF11", "fd", 0x29)]
    [InlineData("-j DSCP --set-dscp 0", "ff", 0x03)]
    [InlineData("-j TOS --set-tos 0x10", "e3", 0x10)] // a bare number comes with the mask 0xff
    [InlineData("-j TOS --set-tos 0x10/0x3f", "e3", 0xd0)]
    [InlineData("-j TOS --set-tos Minimize-Delay", "e3", 0xd0)]
    [InlineData("-j TOS --and-tos 0x0f", "e3", 0x03)]
    [InlineData("-j TOS --or-tos 0x08", "e3", 0xeb)]
    [InlineData("-j TOS --xor-tos 0xff", "e3", 0x1c)]
    public void Dscp_and_tos_rewrite_the_tos_byte(string rule, string tosBefore, int tosAfter)
    {
        var p = Run(rule, $"tcp tos={tosBefore} payload=3");
        Assert.Equal(tosAfter, p.Buffer[1]);
        Assert.Equal(tosAfter, p.Info.Tos); // reparsed
        AssertChecksumsValid(p);
    }

    [Theory]
    [InlineData("-j DSCP --set-dscp 0x2e", "03", 0xbb)]
    [InlineData("-j TOS --set-tos 0x10/0x3f", "e3", 0xd0)]
    public void Dscp_and_tos_rewrite_the_ipv6_traffic_class(string rule, string tcBefore, int tcAfter)
    {
        var p = Run(rule, $"tcp v6 tos={tcBefore}", Family.IPv6);
        Assert.Equal(tcAfter, p.Info.Tos);
        Assert.Equal(0x6, p.Buffer[0] >> 4);
        Assert.Equal(0xB000u, p.Info.FlowLabel); // the flow label is untouched
    }

    [Fact]
    public void An_unchanged_tos_leaves_the_bytes_alone()
    {
        var before = Pkt.Build("tcp tos=b8");
        var p = Run("-j DSCP --set-dscp 0x2e", "tcp tos=b8");
        Assert.Equal(before, p.Bytes.ToArray());
    }

    [Theory]
    [InlineData("-j TTL --ttl-set 1", 64, 1)]
    [InlineData("-j TTL --ttl-inc 10", 64, 74)]
    [InlineData("-j TTL --ttl-inc 10", 250, 255)]
    [InlineData("-j TTL --ttl-dec 10", 64, 54)]
    [InlineData("-j TTL --ttl-dec 10", 5, 0)]
    [InlineData("-j TTL --ttl-set 64", 64, 64)]
    public void Ttl(string rule, int before, int after)
    {
        var p = Run(rule, $"udp ttl={before}");
        Assert.Equal(after, p.Info.Ttl);
        Assert.True(Pkt.Ipv4ChecksumOk(p.Bytes));
    }

    [Fact]
    public void Ttl_checksum_update_equals_a_fresh_computation()
    {
        var p = Run("-j TTL --ttl-dec 1", "udp ttl=64");
        ushort sum = BinaryPrimitives.ReadUInt16BigEndian(p.Bytes[10..]);
        var fresh = Pkt.Build("udp ttl=63");
        Assert.Equal(BinaryPrimitives.ReadUInt16BigEndian(fresh.AsSpan(10)), sum);
    }

    private const string Rule = "-p tcp --syn -j TCPMSS --set-mss 1400";

    [Theory]
    // lowered, never raised
    [InlineData(Rule, "tcp opts=020405b4", "02040578")]
    [InlineData("-p tcp --syn -j TCPMSS --set-mss 1500", "tcp opts=020405b4", "020405b4")]
    [InlineData("-p tcp --syn -j TCPMSS --set-mss 1460", "tcp opts=020405b4", "020405b4")]
    // after two NOPs, and after window scale, SACK-permitted and a NOP
    [InlineData(Rule, "tcp opts=0101020405b40101", "0101020405780101")]
    [InlineData(Rule, "tcp opts=030307040201020405b40000", "030307040201020405780000")]
    // a zero option length advances by one byte
    [InlineData(Rule, "tcp opts=0500020405b40000", "0500020405780000")]
    public void Tcpmss_rewrites_an_existing_option(string rule, string packet, string optionsAfter)
    {
        var p = Run(rule, packet);
        var expected = Convert.FromHexString(optionsAfter);
        Assert.Equal(expected, p.Bytes.Slice(40, expected.Length).ToArray());
        Assert.Equal(Pkt.Build(packet).Length, p.Length);
        AssertChecksumsValid(p);
    }

    [Theory]
    // the value at an odd offset straddles two checksum words; the kernel updates the checksum
    // as if it did not, so the packet leaves with a wrong checksum (oracle: the listener answered
    // the rewritten SYN with MSS first, but not the same SYN with a NOP before the MSS option)
    [InlineData("tcp opts=01020405b4010101", "0102040578010101")]
    [InlineData("tcp opts=0303070402020405b4000000", "030307040202040578000000")]
    public void Tcpmss_unaligned_rewrite_keeps_the_kernels_checksum_error(string packet, string optionsAfter)
    {
        var original = Pkt.Build(packet);
        ushort check = BinaryPrimitives.ReadUInt16BigEndian(original.AsSpan(36));
        var p = Run(Rule, packet);
        Assert.Equal(Convert.FromHexString(optionsAfter), p.Bytes.Slice(40, optionsAfter.Length / 2).ToArray());
        // RFC 1624 eqn. 3 with 0x05b4 -> 0x0578 taken as one aligned word
        uint sum = (ushort)~check + (0xffffu ^ 0x05b4) + 0x0578;
        sum = (sum & 0xffff) + (sum >> 16);
        sum = (sum & 0xffff) + (sum >> 16);
        ushort kernel = (ushort)~sum;
        var bytes = p.Bytes.ToArray();
        Assert.Equal(kernel, BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(36)));
        Assert.NotEqual(Pkt.TransportChecksum(bytes), kernel);
    }

    [Theory]
    [InlineData(Rule, "tcp", "02040218")] // min(1400, 536) for IPv4 (oracle: LOG showed OPT (02040218))
    [InlineData("-p tcp --syn -j TCPMSS --set-mss 500", "tcp", "020401f4")]
    [InlineData(Rule, "tcp opts=01010402", "0204021801010402")]
    // an MSS option with the wrong length is not the MSS option: one is added in front
    [InlineData(Rule, "tcp opts=020305b4", "02040218020305b4")]
    public void Tcpmss_inserts_a_missing_option_in_a_bare_syn(string rule, string packet, string optionsAfter)
    {
        int before = Pkt.Build(packet).Length;
        var p = Run(rule, packet);
        var expected = Convert.FromHexString(optionsAfter);
        Assert.Equal(before + 4, p.Length);
        Assert.Equal(before + 4, p.Info.TotalLength);
        Assert.Equal((20 + expected.Length) / 4, p.Info.TcpDataOffset);
        Assert.Equal(expected, p.Bytes.Slice(40, expected.Length).ToArray());
        Assert.Equal(Pkt.Flags("S"), p.Info.TcpFlags);
        AssertChecksumsValid(p);
    }

    [Fact]
    public void Tcpmss_inserts_at_most_1220_for_ipv6()
    {
        var p = Run("-p tcp --syn -j TCPMSS --set-mss 1400", "tcp v6", Family.IPv6);
        Assert.Equal(40 + 24, p.Length);
        Assert.Equal(24, p.Info.TotalLength - 40);
        Assert.Equal(Convert.FromHexString("020404c4"), p.Bytes.Slice(60, 4).ToArray());
        AssertChecksumsValid(p);
    }

    [Theory]
    [InlineData("tcp payload=10")] // data after the header: no room
    [InlineData("tcp opts=01010101010101010101010101010101010101010101010101010101010101010101010101010101")] // a 60-byte header
    [InlineData("tcp dport=80 frag=2")] // no TCP header in a fragment
    public void Tcpmss_leaves_packets_it_cannot_extend(string packet)
    {
        var before = Pkt.Build(packet);
        var p = Run(Rule, packet);
        Assert.Equal(before, p.Bytes.ToArray());
    }

    [Theory]
    [InlineData("tcp l4=19")]
    [InlineData("tcp doff=4")]
    [InlineData("tcp opts=020405b4 l4=22")]
    public void Tcpmss_drops_unreadable_headers(string packet) => Run(Rule, packet, verdict: TargetVerdict.Drop);

    [Theory]
    // both routes over Ethernet (MTU 1500): 1500 - 40
    [InlineData("tcp opts=02042300", "eth0", "020405b4")]
    [InlineData("tcp opts=020405b4", "eth0", "020405b4")]
    [InlineData("tcp opts=02040500", "eth0", "02040500")]
    public void Tcpmss_clamps_to_the_path_mtu(string packet, string outIface, string optionsAfter)
    {
        var state = new EngineState(new ManualTime());
        var eth0 = state.Network.Add("eth0");
        eth0.IPv4.Add((0xC6336401, 24));
        var p = Run("-p tcp --syn -j TCPMSS --clamp-mss-to-pmtu", packet, state: state,
            setup: q => q.Out = state.Network.Find(outIface));
        Assert.Equal(Convert.FromHexString(optionsAfter), p.Bytes.Slice(40, 4).ToArray());
        AssertChecksumsValid(p);
    }
}
