using System.Text.RegularExpressions;
using SharpTables.Engine.Output;
using SharpTables.Engine.Targets;
using SharpTables.Engine.Tests.Output;
using SharpTables.Rules.Extensions.Log;
using SharpTables.Rules.Model;
using static SharpTables.Engine.Tests.Output.TestPackets;

namespace SharpTables.Engine.Tests.Targets;

/// <summary>
/// REJECT answers compared with what the real kernel sent. The oracle runs (rules, scenarios and
/// results in Output/oracle: log4 = host, r2 = router topology) logged every answer in OUTPUT with
/// <c>-j LOG --log-tcp-sequence --log-ip-options --log-uid</c>; each test builds the same offending
/// packet, lets our REJECT answer it, and logs the answer the same way: the line must be the
/// kernel's, except the IP ID of ICMP errors, which the kernel draws from a keyed hash (ours counts
/// up). Checksums are checked separately (the LOG line does not show them).
/// </summary>
public class RejectTargetTests
{
    private const string Client = "198.51.100.2", Fw = "198.51.100.1", Backend = "203.0.113.2";

    private static readonly Regex s_firstId = new(@" ID=\d+ ");

    private sealed class Host
    {
        public ManualTime Time { get; } = new();
        public EngineState State { get; }
        public List<byte[]> Sent { get; } = [];

        public Host(bool router = false) => State = OracleHost("02:ee:33:84:00:02", router ? "02:ee:33:84:00:03" : null, Time);

        public NetInterface If(string name) => State.Network.Find(name)!;

        /// <summary>Runs REJECT on the packet; returns the answer's OUTPUT log line, or null when none was queued.</summary>
        public string? Reject(Packet p, params string[] rejectArgs)
        {
            var chain = p.Hook switch { Hook.Forward => "FORWARD", Hook.Output => "OUTPUT", _ => "INPUT" };
            string[] proto = p.Info.Protocol == 6 ? ["-p", "tcp"] : [];
            var target = CompileTarget(State, chain, [.. proto, "-j", "REJECT", .. rejectArgs]);
            Assert.Equal(TargetVerdict.Drop, target.Execute(p, new TargetContext(State, "filter", chain, 1)));
            if (State.LocalOut.Count == 0) return null;
            var bytes = State.LocalOut.Get(0).ToArray();
            Assert.Equal(1, State.LocalOut.Count);
            State.LocalOut.Clear();
            Sent.Add(bytes);
            AssertChecksums(bytes);
            var reply = new Packet();
            Assert.True(reply.Load(bytes));
            reply.Hook = Hook.Output;
            reply.Out = State.Network.Route(4, reply.Info.Destination);
            return new LogFormatter().Format(reply, "OUT ", LogFlags.TcpSequence | LogFlags.IpOptions | LogFlags.Uid);
        }
    }

    private static void AssertChecksums(byte[] ip)
    {
        Assert.Equal(0, Checksum(ip.AsSpan(0, 20)));
        var src = new System.Net.IPAddress(ip.AsSpan(12, 4)).ToString();
        var dst = new System.Net.IPAddress(ip.AsSpan(16, 4)).ToString();
        if (ip[9] == 6) Assert.Equal(0, TransportChecksum(src, dst, 6, ip.AsSpan(20)));
        else Assert.Equal(0, Checksum(ip.AsSpan(20)));
    }

    /// <summary>The kernel's line with the ICMP error's random IP ID replaced by ours.</summary>
    private static string WithOurId(string kernelLine, string? ours)
    {
        Assert.NotNull(ours);
        var id = s_firstId.Match(ours).Value;
        return s_firstId.Replace(kernelLine, id, 1);
    }

    private static Packet FromClient(Host h, byte[] ip, Hook hook = Hook.Input)
    {
        var p = Arrived(ip, h.If("eth0"), EtherHeader("02:ee:33:84:00:02", "02:ee:33:84:00:01"), hook, hook == Hook.Forward ? h.If("eth1") : null);
        return p;
    }

    private static byte[] UdpFrom(string src, int n, ushort dport, byte[]? data = null, string dst = Fw, byte ttl = 64, byte tos = 0, ushort frag = 0) =>
        IPv4(src, dst, 17, Udp(src, dst, (ushort)(40000 + n), dport, data), id: (ushort)(0xB000 + n), ttl: ttl, tos: tos, flagsAndOffset: frag);

    [Theory]
    [InlineData(1, "icmp-port-unreachable", "OUT IN= OUT=eth0 SRC=198.51.100.1 DST=198.51.100.41 LEN=59 TOS=0x00 PREC=0xC0 TTL=64 ID=13228 PROTO=ICMP TYPE=3 CODE=3 [SRC=198.51.100.41 DST=198.51.100.1 LEN=31 TOS=0x00 PREC=0x00 TTL=64 ID=45057 PROTO=UDP SPT=40001 DPT=1001 LEN=11 ] ")]
    [InlineData(2, "icmp-admin-prohibited", "OUT IN= OUT=eth0 SRC=198.51.100.1 DST=198.51.100.42 LEN=56 TOS=0x00 PREC=0xC0 TTL=64 ID=51202 PROTO=ICMP TYPE=3 CODE=13 [SRC=198.51.100.42 DST=198.51.100.1 LEN=28 TOS=0x00 PREC=0x00 TTL=64 ID=45058 PROTO=UDP SPT=40002 DPT=1002 LEN=8 ] ")]
    [InlineData(3, "icmp-net-unreachable", "OUT IN= OUT=eth0 SRC=198.51.100.1 DST=198.51.100.43 LEN=56 TOS=0x00 PREC=0xC0 TTL=64 ID=17834 PROTO=ICMP TYPE=3 CODE=0 [SRC=198.51.100.43 DST=198.51.100.1 LEN=28 TOS=0x00 PREC=0x00 TTL=64 ID=45059 PROTO=UDP SPT=40003 DPT=1003 LEN=8 ] ")]
    [InlineData(4, "icmp-host-unreachable", "OUT IN= OUT=eth0 SRC=198.51.100.1 DST=198.51.100.44 LEN=56 TOS=0x00 PREC=0xC0 TTL=64 ID=41454 PROTO=ICMP TYPE=3 CODE=1 [SRC=198.51.100.44 DST=198.51.100.1 LEN=28 TOS=0x00 PREC=0x00 TTL=64 ID=45060 PROTO=UDP SPT=40004 DPT=1004 LEN=8 ] ")]
    [InlineData(5, "icmp-proto-unreachable", "OUT IN= OUT=eth0 SRC=198.51.100.1 DST=198.51.100.45 LEN=56 TOS=0x00 PREC=0xC0 TTL=64 ID=65505 PROTO=ICMP TYPE=3 CODE=2 [SRC=198.51.100.45 DST=198.51.100.1 LEN=28 TOS=0x00 PREC=0x00 TTL=64 ID=45061 PROTO=UDP SPT=40005 DPT=1005 LEN=8 ] ")]
    [InlineData(6, "icmp-net-prohibited", "OUT IN= OUT=eth0 SRC=198.51.100.1 DST=198.51.100.46 LEN=56 TOS=0x00 PREC=0xC0 TTL=64 ID=55907 PROTO=ICMP TYPE=3 CODE=9 [SRC=198.51.100.46 DST=198.51.100.1 LEN=28 TOS=0x00 PREC=0x00 TTL=64 ID=45062 PROTO=UDP SPT=40006 DPT=1006 LEN=8 ] ")]
    [InlineData(7, "icmp-host-prohibited", "OUT IN= OUT=eth0 SRC=198.51.100.1 DST=198.51.100.47 LEN=56 TOS=0x00 PREC=0xC0 TTL=64 ID=23957 PROTO=ICMP TYPE=3 CODE=10 [SRC=198.51.100.47 DST=198.51.100.1 LEN=28 TOS=0x00 PREC=0x00 TTL=64 ID=45063 PROTO=UDP SPT=40007 DPT=1007 LEN=8 ] ")]
    public void Every_icmp_type_in_input(int n, string with, string kernel)
    {
        var h = new Host();
        string src = $"198.51.100.{40 + n}";
        var original = UdpFrom(src, n, (ushort)(1000 + n), n == 1 ? "xyz"u8.ToArray() : null);
        var line = h.Reject(FromClient(h, original), "--reject-with", with);
        Assert.Equal(WithOurId(kernel, line), line);
        // The quote is the original datagram from its IP header on; the 4 bytes after the checksum are zero.
        var sent = Assert.Single(h.Sent);
        Assert.Equal(new byte[4], sent[24..28]);
        Assert.Equal(original, sent[28..]);
    }

    [Fact]
    public void Byte_exact_answers_captured_from_the_kernel()
    {
        // Output/oracle/capture-reject-replies.sh: scapy sent these two packets into a namespace
        // with the REJECT rules and printed the kernel's answers byte for byte.
        var h = new Host();
        var syn = Convert.FromHexString("45100028b001000040067654c6336402c63364019c4103e8000007d0000000005002faf0b88d0000");
        var udp = Convert.FromHexString("4500001fb002000040117661c6336402c63364019c4203e9000b18c878797a");
        Assert.NotNull(h.Reject(FromClient(h, syn), "--reject-with", "tcp-reset"));
        // The RST leaves nf_send_reset as CHECKSUM_PARTIAL: its checksum field holds only the folded
        // pseudo-header sum (0x5485) for the device to complete, and veth hands it over like that.
        // On a wire the segment carries the completed checksum, which is what we write.
        const string kernelRst = "45000028000040004006e665c6336401c633640203e89c4100000000000007d15014000054850000";
        var rst = h.Sent[0];
        Assert.Equal(kernelRst[..72] + kernelRst[76..], Convert.ToHexStringLower(rst)[..72] + Convert.ToHexStringLower(rst)[76..]);
        Assert.Equal(0x5485, 0xffff - TestPackets.Checksum(Convert.FromHexString("c6336401c63364020006001400000000")));
        Assert.Equal(0, TransportChecksum(Fw, Client, 6, rst.AsSpan(20)));
        Assert.NotNull(h.Reject(FromClient(h, udp)));
        const string kernelIcmp = "45c0003bfd3c00004001285bc6336401c633640203035184000000004500001fb002000040117661c6336402c63364019c4203e9000b18c878797a";
        var ours = Convert.ToHexStringLower(h.Sent[1]);
        // All but the IP ID (bytes 4-5) and the header checksum that covers it (bytes 10-11).
        Assert.Equal(kernelIcmp[..8] + kernelIcmp[12..20] + kernelIcmp[24..], ours[..8] + ours[12..20] + ours[24..]);
    }

    [Fact]
    public void Tos_keeps_the_tos_bits_under_internetwork_control()
    {
        // log4 "admin prohib" with TOS 0xff: the answer has TOS=0x1E PREC=0xC0.
        var h = new Host();
        var line = h.Reject(FromClient(h, UdpFrom(Client, 32, 1002, tos: 0xff)), "--reject-with", "icmp-admin-prohibited");
        Assert.Equal(WithOurId("OUT IN= OUT=eth0 SRC=198.51.100.1 DST=198.51.100.2 LEN=56 TOS=0x1E PREC=0xC0 TTL=64 ID=42301 PROTO=ICMP TYPE=3 CODE=13 [SRC=198.51.100.2 DST=198.51.100.1 LEN=28 TOS=0x1E PREC=0xE0 TTL=64 ID=45088 PROTO=UDP SPT=40032 DPT=1002 LEN=8 ] ", line), line);
    }

    [Fact]
    public void Default_is_port_unreachable()
    {
        var h = new Host();
        Assert.Contains(" TYPE=3 CODE=3 [", h.Reject(FromClient(h, UdpFrom(Client, 1, 1010))));
    }

    [Fact]
    public void Icmp_errors_quote_at_most_576_bytes()
    {
        // log4 "big udp quote": 1028-byte datagram, answer LEN=576.
        var h = new Host();
        var original = UdpFrom("198.51.100.20", 38, 1010, new byte[1000]);
        var line = h.Reject(FromClient(h, original));
        Assert.Equal(WithOurId("OUT IN= OUT=eth0 SRC=198.51.100.1 DST=198.51.100.20 LEN=576 TOS=0x00 PREC=0xC0 TTL=64 ID=41632 PROTO=ICMP TYPE=3 CODE=3 [SRC=198.51.100.20 DST=198.51.100.1 LEN=1028 TOS=0x00 PREC=0x00 TTL=64 ID=45094 PROTO=UDP SPT=40038 DPT=1010 LEN=1008 ] ", line), line);
        Assert.Equal(original[..548], h.Sent[0][28..]);
    }

    [Fact]
    public void Icmp_queries_are_answered_but_not_icmp_errors_fragments_or_broadcasts()
    {
        var h = new Host();
        // log4 "echo rejected"
        var echo = IPv4("198.51.100.21", Fw, 1, Icmp(8, 0, 0x4f520001), id: 0xB000 + 39);
        var line = h.Reject(FromClient(h, echo));
        Assert.Equal(WithOurId("OUT IN= OUT=eth0 SRC=198.51.100.1 DST=198.51.100.21 LEN=56 TOS=0x00 PREC=0xC0 TTL=64 ID=43662 PROTO=ICMP TYPE=3 CODE=3 [SRC=198.51.100.21 DST=198.51.100.1 LEN=28 TOS=0x00 PREC=0x00 TTL=64 ID=45095 PROTO=ICMP TYPE=8 CODE=0 ID=20306 SEQ=1 ] ", line), line);
        // log4 "error not rejected", "nonfirst frag no reply", "broadcast no reply": nothing in OUTPUT.
        var quote = IPv4(Fw, "198.51.100.22", 17, Udp(Fw, "198.51.100.22", 40000, 53))[..28];
        Assert.Null(h.Reject(FromClient(h, IPv4("198.51.100.22", Fw, 1, Icmp(3, 3, body: quote), id: 0xB000 + 40))));
        Assert.Null(h.Reject(FromClient(h, UdpFrom("198.51.100.23", 41, 1010, new byte[8], frag: 5))));
        Assert.Null(h.Reject(FromClient(h, UdpFrom("198.51.100.24", 42, 1010, dst: "198.51.100.255"))));
        // Derived from __icmp_send: multicast destinations and frames for another host get nothing either.
        Assert.Null(h.Reject(FromClient(h, UdpFrom("198.51.100.25", 43, 1010, dst: "224.0.0.251"))));
        var other = FromClient(h, UdpFrom("198.51.100.26", 44, 1010));
        other.PktType = PacketType.OtherHost;
        Assert.Null(h.Reject(other));
    }

    [Fact]
    public void Checksums_are_trusted_as_on_the_oracles_links()
    {
        // nf_send_unreach / nf_send_reset verify checksums only of CHECKSUM_NONE packets; veth (and
        // offloading NICs) deliver CHECKSUM_UNNECESSARY. Oracle (live differential seed 31002, b0003
        // case 12): a protocol-253 packet without payload, whose pseudo-header sum is not zero, was
        // REJECTed with a port unreachable; so are corrupted UDP and TCP here.
        var h = new Host();
        var udp = UdpFrom("198.51.100.60", 1, 1010);
        udp[26] ^= 0xff;
        Assert.NotNull(h.Reject(FromClient(h, udp)));
        var tcp = IPv4("198.51.100.61", Fw, 6, Tcp("198.51.100.61", Fw, 1, 1000, 5, 0, 0x02));
        tcp[36] ^= 0x01;
        Assert.NotNull(h.Reject(FromClient(h, tcp), "--reject-with", "tcp-reset"));
        Assert.NotNull(h.Reject(FromClient(h, IPv4("198.51.100.62", Fw, 253, []))));
    }

    private static byte[] TcpFrom(string src, int n, ushort dport, byte flags, uint? seq = null, uint ack = 0, byte[]? data = null, string dst = Fw, byte ttl = 64) =>
        IPv4(src, dst, 6, Tcp(src, dst, (ushort)(40000 + n), dport, seq ?? (uint)(1000 + 1000 * n), ack, flags, data: data), id: (ushort)(0xB000 + n), ttl: ttl);

    [Fact]
    public void Tcp_reset_numbers_as_the_kernel_sent_them()
    {
        var h = new Host();
        string Rst(byte[] ip) => h.Reject(FromClient(h, ip), "--reject-with", "tcp-reset") ?? "(none)";
        // r2 "rst": SYN from .48
        Assert.Equal("OUT IN= OUT=eth0 SRC=198.51.100.1 DST=198.51.100.48 LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=0 DF PROTO=TCP SPT=1000 DPT=40008 SEQ=0 ACK=9001 WINDOW=0 RES=0x00 ACK RST URGP=0 ",
            Rst(TcpFrom("198.51.100.48", 8, 1000, 0x02)));
        // log4: bare ACK (ack 123456), SYN with 10 data bytes and wrapping sequence, FIN+ACK, FIN.
        Assert.Equal("OUT IN= OUT=eth0 SRC=198.51.100.1 DST=198.51.100.2 LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=0 DF PROTO=TCP SPT=1000 DPT=40026 SEQ=123456 ACK=0 WINDOW=0 RES=0x00 RST URGP=0 ",
            Rst(TcpFrom(Client, 26, 1000, 0x10, seq: 7000, ack: 123456)));
        Assert.Equal("OUT IN= OUT=eth0 SRC=198.51.100.1 DST=198.51.100.2 LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=0 DF PROTO=TCP SPT=1000 DPT=40027 SEQ=0 ACK=5 WINDOW=0 RES=0x00 ACK RST URGP=0 ",
            Rst(TcpFrom(Client, 27, 1000, 0x02, seq: 4294967290, data: new byte[10])));
        Assert.Equal("OUT IN= OUT=eth0 SRC=198.51.100.1 DST=198.51.100.2 LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=0 DF PROTO=TCP SPT=1000 DPT=40028 SEQ=1 ACK=0 WINDOW=0 RES=0x00 RST URGP=0 ",
            Rst(TcpFrom(Client, 28, 1000, 0x11, seq: 9000, ack: 1)));
        Assert.Equal("OUT IN= OUT=eth0 SRC=198.51.100.1 DST=198.51.100.2 LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=0 DF PROTO=TCP SPT=1000 DPT=40029 SEQ=0 ACK=9001 WINDOW=0 RES=0x00 ACK RST URGP=0 ",
            Rst(TcpFrom(Client, 29, 1000, 0x01, seq: 9000)));
        // log4 "no rst for rst"
        Assert.Equal("(none)", Rst(TcpFrom(Client, 30, 1000, 0x04)));
        // RSTs are not rate limited: all of them went out.
        Assert.Equal(5, h.Sent.Count);
    }

    [Fact]
    public void Forwarded_packets_are_answered_from_the_interface_towards_the_sender()
    {
        var h = new Host(router: true);
        // r2 "fwd reject udp": the quote shows the TTL FORWARD saw (63).
        var line = h.Reject(FromClient(h, UdpFrom("198.51.100.50", 15, 1010, dst: Backend, ttl: 63), Hook.Forward));
        Assert.Equal(WithOurId("OUT IN= OUT=eth0 SRC=198.51.100.1 DST=198.51.100.50 LEN=56 TOS=0x00 PREC=0xC0 TTL=64 ID=47 PROTO=ICMP TYPE=3 CODE=3 [SRC=198.51.100.50 DST=203.0.113.2 LEN=28 TOS=0x00 PREC=0x00 TTL=63 ID=45071 PROTO=UDP SPT=40015 DPT=1010 LEN=8 ] ", line), line);
        // r2 "fwd reject frag0": a first fragment is answered.
        line = h.Reject(FromClient(h, UdpFrom("198.51.100.51", 16, 1010, new byte[16], dst: Backend, ttl: 63, frag: 0x2000), Hook.Forward));
        Assert.Equal(WithOurId("OUT IN= OUT=eth0 SRC=198.51.100.1 DST=198.51.100.51 LEN=72 TOS=0x00 PREC=0xC0 TTL=64 ID=8946 PROTO=ICMP TYPE=3 CODE=3 [SRC=198.51.100.51 DST=203.0.113.2 LEN=44 TOS=0x00 PREC=0x00 TTL=63 ID=45072 MF PROTO=UDP SPT=40016 DPT=1010 LEN=24 ] ", line), line);
        // r2 "fwd reject tcp": the RST claims to come from the original destination.
        Assert.Equal("OUT IN= OUT=eth0 SRC=203.0.113.2 DST=198.51.100.52 LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=0 DF PROTO=TCP SPT=1000 DPT=40017 SEQ=88 ACK=0 WINDOW=0 RES=0x00 RST URGP=0 ",
            h.Reject(FromClient(h, TcpFrom("198.51.100.52", 17, 1000, 0x18, seq: 77, ack: 88, data: "abc"u8.ToArray(), dst: Backend, ttl: 63), Hook.Forward), "--reject-with", "tcp-reset"));
        // r2 "fwd-rev reject udp": from the backend, answered from eth1's address.
        var fromBackend = Arrived(UdpFrom(Backend, 18, 1010, dst: Client, ttl: 63), h.If("eth1"), EtherHeader("02:ee:33:84:00:03", "02:ee:33:84:00:04"), Hook.Forward, h.If("eth0"));
        line = h.Reject(fromBackend);
        Assert.Equal(WithOurId("OUT IN= OUT=eth1 SRC=203.0.113.1 DST=203.0.113.2 LEN=56 TOS=0x00 PREC=0xC0 TTL=64 ID=31464 PROTO=ICMP TYPE=3 CODE=3 [SRC=203.0.113.2 DST=198.51.100.2 LEN=28 TOS=0x00 PREC=0x00 TTL=63 ID=45074 PROTO=UDP SPT=40018 DPT=1010 LEN=8 ] ", line), line);
    }

    [Fact]
    public void Locally_generated_packets_are_answered_to_the_host_itself()
    {
        var h = new Host(router: true);
        var udp = new Packet();
        udp.Load(UdpFrom(Fw, 20, 2001, dst: Client));
        udp.Hook = Hook.Output;
        udp.Out = h.If("eth0");
        // r2 "out reject udp": the error goes from and to 198.51.100.1 through lo.
        var line = h.Reject(udp);
        Assert.Equal(WithOurId("OUT IN= OUT=lo SRC=198.51.100.1 DST=198.51.100.1 LEN=56 TOS=0x00 PREC=0xC0 TTL=64 ID=3269 PROTO=ICMP TYPE=3 CODE=3 [SRC=198.51.100.1 DST=198.51.100.2 LEN=28 TOS=0x00 PREC=0x00 TTL=64 ID=45076 PROTO=UDP SPT=40020 DPT=2001 LEN=8 ] ", line), line);
        var tcp = new Packet();
        tcp.Load(TcpFrom(Fw, 21, 2000, 0x02, dst: Client));
        tcp.Hook = Hook.Output;
        tcp.Out = h.If("eth0");
        // r2 "out reject tcp"
        Assert.Equal("OUT IN= OUT=lo SRC=198.51.100.2 DST=198.51.100.1 LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=0 DF PROTO=TCP SPT=2000 DPT=40021 SEQ=0 ACK=22001 WINDOW=0 RES=0x00 ACK RST URGP=0 ",
            h.Reject(tcp, "--reject-with", "tcp-reset"));
    }

    [Fact]
    public void Each_destination_gets_a_burst_of_six_then_one_a_second()
    {
        var h = new Host();
        // log4 "burst": 10 datagrams from one source within milliseconds, 6 answers.
        int answered = 0;
        for (int i = 0; i < 10; i++)
            if (h.Reject(FromClient(h, UdpFrom("198.51.100.30", 43 + i, 1010))) != null) answered++;
        Assert.Equal(6, answered);
        // Derived from inet_peer_xrlim_allow: one token a jiffy, icmp_ratelimit = HZ tokens per message.
        h.Time.AdvanceMilliseconds(996);
        Assert.Null(h.Reject(FromClient(h, UdpFrom("198.51.100.30", 60, 1010))));
        h.Time.AdvanceMilliseconds(4);
        Assert.NotNull(h.Reject(FromClient(h, UdpFrom("198.51.100.30", 61, 1010))));
        Assert.Null(h.Reject(FromClient(h, UdpFrom("198.51.100.30", 62, 1010))));
        // Another source has its own bucket.
        Assert.NotNull(h.Reject(FromClient(h, UdpFrom("198.51.100.31", 63, 1010))));
        // After six seconds the bucket is full again.
        h.Time.AdvanceMilliseconds(6000);
        for (int i = 0; i < 6; i++) Assert.NotNull(h.Reject(FromClient(h, UdpFrom("198.51.100.30", 70 + i, 1010))));
        Assert.Null(h.Reject(FromClient(h, UdpFrom("198.51.100.30", 80, 1010))));
    }

    [Fact]
    public void The_host_wide_limit_allows_a_burst_of_fifty_then_one_a_millisecond()
    {
        // Derived from icmp_global_allow (msgs_per_sec 1000, burst 50; refills at most every HZ/50
        // jiffies). The kernel takes 0-2 credits per message at random, the model one.
        var h = new Host();
        int answered = 0;
        for (int i = 0; i < 80; i++)
            if (h.Reject(FromClient(h, UdpFrom($"198.51.100.{100 + i}", 1, 1010))) != null) answered++;
        Assert.Equal(50, answered);
        h.Time.AdvanceMilliseconds(16); // 4 jiffies < HZ/50: nothing earned yet
        Assert.Null(h.Reject(FromClient(h, UdpFrom("198.51.100.200", 1, 1010))));
        h.Time.AdvanceMilliseconds(4); // 5 jiffies = 20 ms: 20 credits
        answered = 0;
        for (int i = 0; i < 30; i++)
            if (h.Reject(FromClient(h, UdpFrom($"198.51.100.{201 + i % 50}", 2 + i, 1010))) != null) answered++;
        Assert.Equal(20, answered);
    }

    [Fact]
    public void Loopback_traffic_is_never_rate_limited()
    {
        var h = new Host();
        for (int i = 0; i < 70; i++)
        {
            var p = Arrived(UdpFrom("127.0.0.1", i, 1001, dst: "127.0.0.1"), h.If("lo"), EtherHeader("00:00:00:00:00:00", "00:00:00:00:00:00"));
            Assert.NotNull(h.Reject(p));
        }
    }

    [Fact]
    public void No_room_in_the_local_out_queue_still_drops()
    {
        var h = new Host();
        var target = CompileTarget(h.State, "INPUT", ["-j", "REJECT"]);
        for (int i = 0; i < 20; i++)
            Assert.Equal(TargetVerdict.Drop, target.Execute(FromClient(h, UdpFrom($"198.51.100.{100 + i}", i, 1010)), new TargetContext(h.State, "filter", "INPUT", 1)));
        Assert.Equal(8, h.State.LocalOut.Count);
    }
}
