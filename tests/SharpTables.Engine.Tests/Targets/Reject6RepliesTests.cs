using System.Text.RegularExpressions;
using SharpTables.Engine.Output;
using SharpTables.Engine.Targets;
using SharpTables.Rules.Extensions.Log;
using static SharpTables.Engine.Tests.Output.TestPackets;

namespace SharpTables.Engine.Tests.Targets;

/// <summary>
/// The IPv6 answers (ip6t_REJECT) against Output/oracle/v6.lines.txt, where the real kernel's
/// answers were logged in OUTPUT with <c>--log-tcp-sequence --log-ip-options --log-uid</c>. The
/// rule model has no IPv6 REJECT yet, so these call the reply builders directly. The kernel's
/// ICMPv6 flow label is a keyed hash (auto_flowlabels); ours is 0, so that one field is replaced.
/// </summary>
public class Reject6RepliesTests
{
    private const string F6 = "2001:db8:100::1";
    private static readonly Regex s_firstFlow = new(@"FLOWLBL=\d+ ");

    private readonly EngineState _state = OracleHost("02:b9:3e:51:00:02");
    private readonly IcmpRateLimiter _limiter;

    public Reject6RepliesTests() => _limiter = IcmpRateLimiter.For(_state);

    private Packet In(byte[] ip) => Arrived(ip, _state.Network.Find("eth0"), EtherHeader("02:b9:3e:51:00:02", "02:b9:3e:51:00:01", 0x86dd));

    private string? Logged(int length, byte[] buffer)
    {
        if (length == 0) return null;
        var reply = new Packet();
        Assert.True(reply.Load(buffer.AsSpan(0, length)));
        var src = new System.Net.IPAddress(buffer.AsSpan(8, 16)).ToString();
        var dst = new System.Net.IPAddress(buffer.AsSpan(24, 16)).ToString();
        Assert.Equal(0, TransportChecksum(src, dst, buffer[6], buffer.AsSpan(40, length - 40)));
        reply.Hook = Rules.Model.Hook.Output;
        reply.Out = _state.Network.Route(6, reply.Info.Destination);
        return new LogFormatter().Format(reply, "OUT ", LogFlags.TcpSequence | LogFlags.IpOptions | LogFlags.Uid);
    }

    private string? Unreach(byte[] ip, byte code)
    {
        var buffer = new byte[1600];
        return Logged(RejectReplies.Unreachable6(In(ip), code, _state.Network, _limiter, buffer), buffer);
    }

    private string? Reset(byte[] ip)
    {
        var buffer = new byte[1600];
        return Logged(RejectReplies.TcpReset6(In(ip), _state.Network, buffer), buffer);
    }

    private static byte[] Udp6(string src, int n, ushort dport, byte tc = 0, int payload = 0) =>
        IPv6(src, F6, 17, Udp(src, F6, (ushort)(40000 + n), dport, new byte[payload]), (uint)(0xB000 + n), trafficClass: tc);

    private static string Ours(string kernel) => s_firstFlow.Replace(kernel, "FLOWLBL=0 ", 1);

    [Theory]
    [InlineData(0x33, 19, 1001, 4, 255, "OUT IN= OUT=eth0 SRC=2001:0db8:0100:0000:0000:0000:0000:0001 DST=2001:0db8:0100:0000:0000:0000:0000:0033 LEN=96 TC=0 HOPLIMIT=64 FLOWLBL=796785 PROTO=ICMPv6 TYPE=1 CODE=4 [SRC=2001:0db8:0100:0000:0000:0000:0000:0033 DST=2001:0db8:0100:0000:0000:0000:0000:0001 LEN=48 TC=255 HOPLIMIT=64 FLOWLBL=45075 PROTO=UDP SPT=40019 DPT=1001 LEN=8 ] ")]
    [InlineData(0x34, 20, 1002, 1, 0, "OUT IN= OUT=eth0 SRC=2001:0db8:0100:0000:0000:0000:0000:0001 DST=2001:0db8:0100:0000:0000:0000:0000:0034 LEN=96 TC=0 HOPLIMIT=64 FLOWLBL=523648 PROTO=ICMPv6 TYPE=1 CODE=1 [SRC=2001:0db8:0100:0000:0000:0000:0000:0034 DST=2001:0db8:0100:0000:0000:0000:0000:0001 LEN=48 TC=0 HOPLIMIT=64 FLOWLBL=45076 PROTO=UDP SPT=40020 DPT=1002 LEN=8 ] ")]
    [InlineData(0x35, 21, 1003, 0, 0, "OUT IN= OUT=eth0 SRC=2001:0db8:0100:0000:0000:0000:0000:0001 DST=2001:0db8:0100:0000:0000:0000:0000:0035 LEN=96 TC=0 HOPLIMIT=64 FLOWLBL=974678 PROTO=ICMPv6 TYPE=1 CODE=0 [SRC=2001:0db8:0100:0000:0000:0000:0000:0035 DST=2001:0db8:0100:0000:0000:0000:0000:0001 LEN=48 TC=0 HOPLIMIT=64 FLOWLBL=45077 PROTO=UDP SPT=40021 DPT=1003 LEN=8 ] ")]
    [InlineData(0x36, 22, 1004, 3, 0, "OUT IN= OUT=eth0 SRC=2001:0db8:0100:0000:0000:0000:0000:0001 DST=2001:0db8:0100:0000:0000:0000:0000:0036 LEN=96 TC=0 HOPLIMIT=64 FLOWLBL=1013862 PROTO=ICMPv6 TYPE=1 CODE=3 [SRC=2001:0db8:0100:0000:0000:0000:0000:0036 DST=2001:0db8:0100:0000:0000:0000:0000:0001 LEN=48 TC=0 HOPLIMIT=64 FLOWLBL=45078 PROTO=UDP SPT=40022 DPT=1004 LEN=8 ] ")]
    public void Unreachable_codes(int host, int n, int dport, int code, int tc, string kernel) =>
        Assert.Equal(Ours(kernel), Unreach(Udp6($"2001:db8:100::{host:x}", n, (ushort)dport, (byte)tc), (byte)code));

    [Fact]
    public void Quotes_fill_at_most_the_minimum_mtu()
    {
        Assert.Equal(Ours("OUT IN= OUT=eth0 SRC=2001:0db8:0100:0000:0000:0000:0000:0001 DST=2001:0db8:0100:0000:0000:0000:0000:0037 LEN=1280 TC=0 HOPLIMIT=64 FLOWLBL=245386 PROTO=ICMPv6 TYPE=1 CODE=4 [SRC=2001:0db8:0100:0000:0000:0000:0000:0037 DST=2001:0db8:0100:0000:0000:0000:0000:0001 LEN=1448 TC=0 HOPLIMIT=64 FLOWLBL=45079 PROTO=UDP SPT=40023 DPT=1010 LEN=1408 ] "),
            Unreach(Udp6("2001:db8:100::37", 23, 1010, payload: 1400), 4));
    }

    [Fact]
    public void Informational_icmpv6_is_answered_errors_are_not()
    {
        const string src = "2001:db8:100::20";
        Assert.Contains("TYPE=1 CODE=4 [", Unreach(IPv6(src, F6, 58, Icmp6(src, F6, 128, 0, 9u << 16 | 3), 0xB003), 4));
        var quote = IPv6(F6, "2001:db8:100::38", 17, Udp(F6, "2001:db8:100::38", 40000, 53), 1);
        Assert.Null(Unreach(IPv6("2001:db8:100::38", F6, 58, Icmp6("2001:db8:100::38", F6, 1, 4, body: quote), 0xB018), 4));
        // Derived from reject6_csum_ok: a later fragment gets nothing.
        Assert.Null(Unreach(IPv6("2001:db8:100::23", F6, 44, Convert.FromHexString("110000501234567800000000000000000000000000000000"), 0xB00C), 4));
    }

    [Fact]
    public void Tcp_resets()
    {
        Assert.Equal("OUT IN= OUT=eth0 SRC=2001:0db8:0100:0000:0000:0000:0000:0001 DST=2001:0db8:0100:0000:0000:0000:0000:0031 LEN=60 TC=0 HOPLIMIT=64 FLOWLBL=0 PROTO=TCP SPT=1000 DPT=40017 SEQ=0 ACK=104 WINDOW=0 RES=0x00 ACK RST URGP=0 ",
            Reset(IPv6("2001:db8:100::31", F6, 6, Tcp("2001:db8:100::31", F6, 40017, 1000, 100, 0, 0x02, data: new byte[3]), 0xB011)));
        Assert.Equal("OUT IN= OUT=eth0 SRC=2001:0db8:0100:0000:0000:0000:0000:0001 DST=2001:0db8:0100:0000:0000:0000:0000:0032 LEN=60 TC=0 HOPLIMIT=64 FLOWLBL=0 PROTO=TCP SPT=1000 DPT=40018 SEQ=555 ACK=0 WINDOW=0 RES=0x00 RST URGP=0 ",
            Reset(IPv6("2001:db8:100::32", F6, 6, Tcp("2001:db8:100::32", F6, 40018, 1000, 19000, 555, 0x10), 0xB012)));
        Assert.Null(Reset(IPv6("2001:db8:100::32", F6, 6, Tcp("2001:db8:100::32", F6, 40018, 1000, 19000, 555, 0x04), 0xB012)));
    }

    [Fact]
    public void Each_destination_gets_six_then_one_every_100_ms()
    {
        int answered = 0;
        for (int i = 0; i < 10; i++)
            if (Unreach(Udp6("2001:db8:100::39", 25 + i, 1010), 4) != null) answered++;
        Assert.Equal(6, answered); // v6.lines.txt "burst": OUTPUT counted 6
    }
}
