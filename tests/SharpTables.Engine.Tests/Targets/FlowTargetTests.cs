using System.Buffers.Binary;
using System.Text;
using SharpTables.Engine.Conntrack;
using SharpTables.Engine.Targets;
using SharpTables.Engine.Tests.Matches;
using SharpTables.Rules.Model;

namespace SharpTables.Engine.Tests.Targets;

/// <summary>CT/NOTRACK, TRACE, NFQUEUE and NFLOG: targets that steer the packet rather than rewrite it.</summary>
public class FlowTargetTests
{
    [Theory]
    [InlineData("-j NOTRACK", true, 0)]
    [InlineData("-j CT --notrack", true, 0)]
    [InlineData("-j CT --zone 5", false, 5)]
    [InlineData("-j CT --zone-orig 7", false, 7)]
    [InlineData("-p tcp -j CT --helper ftp --ctevents new", false, 0)] // helpers and events are not modelled
    public void Ct_marks_packets_untracked_or_records_the_zone(string rule, bool untracked, int zone)
    {
        var p = RuleUnderTest.Load("tcp", Hook.PreRouting);
        Assert.Equal(TargetVerdict.Continue, RuleUnderTest.Target(rule, table: "raw", chain: "PREROUTING")(p));
        Assert.Equal(untracked, p.Untracked);
        Assert.Equal(zone, p.Zone);
        Assert.Null(p.Conn);
    }

    [Fact]
    public void Ct_zone_mark_takes_the_packet_mark()
    {
        var p = RuleUnderTest.Load("tcp", Hook.PreRouting);
        p.Mark = 0x10009;
        RuleUnderTest.Target("-j CT --zone mark", table: "raw", chain: "PREROUTING")(p);
        Assert.Equal(9, p.Zone);
    }

    [Fact]
    public void Ct_leaves_a_packet_that_already_has_conntrack_information()
    {
        // xt_ct_target: "Previously seen (loopback)? Ignore." - and a first CT template wins
        var tracked = RuleUnderTest.Load("tcp", Hook.PreRouting);
        tracked.Conn = new Connection();
        RuleUnderTest.Target("-j NOTRACK", table: "raw", chain: "PREROUTING")(tracked);
        Assert.False(tracked.Untracked);

        var zoned = RuleUnderTest.Load("tcp", Hook.PreRouting);
        RuleUnderTest.Target("-j CT --zone 3", table: "raw", chain: "PREROUTING")(zoned);
        RuleUnderTest.Target("-j NOTRACK", table: "raw", chain: "PREROUTING")(zoned);
        Assert.False(zoned.Untracked);
        Assert.Equal(3, zoned.Zone);
    }

    [Fact]
    public void Trace_flags_the_packet_and_continues()
    {
        var p = RuleUnderTest.Load("tcp", Hook.PreRouting);
        Assert.Equal(TargetVerdict.Continue, RuleUnderTest.Target("-j TRACE", table: "raw", chain: "PREROUTING")(p));
        Assert.True(p.Trace);
        Assert.True(p.Load(Pkt.Build("tcp")));
        Assert.False(p.Trace);
    }

    [Theory]
    [InlineData("-j NFQUEUE", 0, false)]
    [InlineData("-j NFQUEUE --queue-num 3", 3, false)]
    [InlineData("-j NFQUEUE --queue-num 65535 --queue-bypass", 65535, true)]
    // CPU fan-out: queue + cpu % total, and the engine is CPU 0
    [InlineData("-j NFQUEUE --queue-balance 4:7 --queue-cpu-fanout", 4, false)]
    public void Nfqueue_queues_to_the_given_queue(string rule, int queue, bool bypass)
    {
        var p = RuleUnderTest.Load("tcp");
        Assert.Equal(TargetVerdict.Queue, RuleUnderTest.Target(rule, table: "filter", chain: "INPUT")(p));
        Assert.Equal(queue, p.QueueNumber);
        Assert.Equal(bypass, p.QueueBypass);
        Assert.True(p.Load(Pkt.Build("tcp")));
        Assert.Equal(0, p.QueueNumber);
        Assert.False(p.QueueBypass);
    }

    /// <summary>
    /// The kernel's jhash() over bytes (include/linux/jhash.h: __jhash_mix, __jhash_final, the
    /// little-endian word loads of x86), written out here independently of the engine.
    /// </summary>
    private static uint KernelJhash(ReadOnlySpan<byte> k, uint initval)
    {
        static uint Rol(uint x, int n) => (x << n) | (x >> (32 - n));
        uint a, b, c;
        a = b = c = 0xdeadbeef + (uint)k.Length + initval;
        while (k.Length > 12)
        {
            a += BinaryPrimitives.ReadUInt32LittleEndian(k);
            b += BinaryPrimitives.ReadUInt32LittleEndian(k[4..]);
            c += BinaryPrimitives.ReadUInt32LittleEndian(k[8..]);
            a -= c; a ^= Rol(c, 4); c += b;
            b -= a; b ^= Rol(a, 6); a += c;
            c -= b; c ^= Rol(b, 8); b += a;
            a -= c; a ^= Rol(c, 16); c += b;
            b -= a; b ^= Rol(a, 19); a += c;
            c -= b; c ^= Rol(b, 4); b += a;
            k = k[12..];
        }
        if (k.Length == 0) return c;
        Span<byte> tail = stackalloc byte[12];
        k.CopyTo(tail);
        a += BinaryPrimitives.ReadUInt32LittleEndian(tail);
        b += BinaryPrimitives.ReadUInt32LittleEndian(tail[4..]);
        c += BinaryPrimitives.ReadUInt32LittleEndian(tail[8..]);
        c ^= b; c -= Rol(b, 14);
        a ^= c; a -= Rol(c, 11);
        b ^= a; b -= Rol(a, 25);
        c ^= b; c -= Rol(b, 16);
        a ^= c; a -= Rol(c, 4);
        b ^= a; b -= Rol(a, 14);
        c ^= b; c -= Rol(b, 24);
        return c;
    }

    [Theory]
    // Bob Jenkins' published lookup3 vectors (hashlittle = the kernel's jhash on x86)
    [InlineData("Four score and seven years ago", 0u, 0x17770551u)]
    [InlineData("Four score and seven years ago", 1u, 0xcd628161u)]
    public void Reference_jhash_reproduces_the_lookup3_vectors(string text, uint initval, uint expected) =>
        Assert.Equal(expected, KernelJhash(Encoding.ASCII.GetBytes(text), initval));

    [Theory]
    [InlineData(0u, 0u, 0u, 0u)]
    [InlineData(0x0100a8c0u, 0x0200a8c0u, 6u, 0x2545F491u)]
    [InlineData(0xffffffffu, 1u, 17u, 12345u)]
    public void Engine_jhash_3words_equals_jhash_of_the_12_bytes(uint a, uint b, uint c, uint seed)
    {
        Span<byte> key = stackalloc byte[12];
        BinaryPrimitives.WriteUInt32LittleEndian(key, a);
        BinaryPrimitives.WriteUInt32LittleEndian(key[4..], b);
        BinaryPrimitives.WriteUInt32LittleEndian(key[8..], c);
        Assert.Equal(KernelJhash(key, seed), NfqueueTargetCompiler.JHash3(a, b, c, seed));
    }

    [Theory]
    [InlineData("tcp src=198.51.100.2 dst=198.51.100.1")]
    [InlineData("udp src=10.1.2.3 dst=192.0.2.77")]
    [InlineData("tcp src=203.0.113.200 dst=203.0.113.9")]
    public void Nfqueue_balance_spreads_flows_as_nfqueue_hash(string packet)
    {
        var p = RuleUnderTest.Load(packet);
        var run = RuleUnderTest.Target("-j NFQUEUE --queue-balance 10:13", table: "filter", chain: "INPUT");
        Assert.Equal(TargetVerdict.Queue, run(p));

        // hash_v4: the raw (network-order) address words, smaller first, then the protocol
        var bytes = p.Bytes;
        uint s = BinaryPrimitives.ReadUInt32LittleEndian(bytes[12..]), d = BinaryPrimitives.ReadUInt32LittleEndian(bytes[16..]);
        Span<byte> key = stackalloc byte[12];
        BinaryPrimitives.WriteUInt32LittleEndian(key, Math.Min(s, d));
        BinaryPrimitives.WriteUInt32LittleEndian(key[4..], Math.Max(s, d));
        BinaryPrimitives.WriteUInt32LittleEndian(key[8..], bytes[9]);
        uint hash = KernelJhash(key, NfqueueTargetCompiler.HashSeed);
        Assert.Equal(10 + (int)(((ulong)hash * 4) >> 32), p.QueueNumber);

        // both directions of a flow share the queue
        var reply = RuleUnderTest.Load(Swap(packet));
        run(reply);
        Assert.Equal(p.QueueNumber, reply.QueueNumber);
    }

    [Fact]
    public void Nfqueue_balance_uses_the_whole_range()
    {
        var run = RuleUnderTest.Target("-j NFQUEUE --queue-balance 0:3", table: "filter", chain: "INPUT");
        var seen = new HashSet<int>();
        for (int i = 1; i < 200; i++)
        {
            var p = RuleUnderTest.Load($"udp src=10.0.{i / 250}.{i % 250 + 1}");
            run(p);
            seen.Add(p.QueueNumber);
        }
        Assert.Equal([0, 1, 2, 3], seen.Order());
    }

    [Fact]
    public void Nfqueue_balance_ipv6_hashes_words_1_and_3()
    {
        var p = RuleUnderTest.Load("tcp v6 src=2001:db8:100::2 dst=2001:db8:113::5");
        RuleUnderTest.Target("-j NFQUEUE --queue-balance 0:7", table: "filter", chain: "INPUT", family: Family.IPv6)(p);
        var b = p.Bytes;
        uint s3 = BinaryPrimitives.ReadUInt32LittleEndian(b[20..]), d3 = BinaryPrimitives.ReadUInt32LittleEndian(b[36..]);
        uint s1 = BinaryPrimitives.ReadUInt32LittleEndian(b[12..]), d1 = BinaryPrimitives.ReadUInt32LittleEndian(b[28..]);
        Span<byte> key = stackalloc byte[12];
        BinaryPrimitives.WriteUInt32LittleEndian(key, Math.Min(s3, d3));
        BinaryPrimitives.WriteUInt32LittleEndian(key[4..], Math.Max(s3, d3));
        BinaryPrimitives.WriteUInt32LittleEndian(key[8..], Math.Min(s1, d1));
        uint hash = KernelJhash(key, NfqueueTargetCompiler.HashSeed);
        Assert.Equal((int)(((ulong)hash * 8) >> 32), p.QueueNumber);
    }

    private static string Swap(string packet)
    {
        var words = packet.Split(' ');
        for (int i = 0; i < words.Length; i++)
        {
            if (words[i].StartsWith("src=")) words[i] = "dst=" + words[i][4..];
            else if (words[i].StartsWith("dst=")) words[i] = "src=" + words[i][4..];
        }
        return string.Join(' ', words);
    }

    private sealed class NflogCollector : IEngineObserver
    {
        public List<NflogRecord> Records { get; } = [];
        public void OnNflog(in NflogRecord record) => Records.Add(record);
    }

    [Fact]
    public void Nflog_reports_group_prefix_and_hook_and_continues()
    {
        var state = new EngineState(new ManualTime());
        var observer = new NflogCollector();
        state.Observer = observer;
        var p = RuleUnderTest.Load("tcp", Hook.Forward);
        p.Number = 42;
        var run = RuleUnderTest.Target("-j NFLOG --nflog-group 3 --nflog-prefix 'dropped: '", state, "filter", "FORWARD");
        Assert.Equal(TargetVerdict.Continue, run(p));
        Assert.Equal([new NflogRecord(3, "dropped: ", Hook.Forward, 42)], observer.Records);
    }

    [Fact]
    public void Nflog_defaults_to_group_0_without_prefix()
    {
        var state = new EngineState(new ManualTime());
        var observer = new NflogCollector();
        state.Observer = observer;
        RuleUnderTest.Target("-j NFLOG", state, "filter", "INPUT")(RuleUnderTest.Load("udp"));
        Assert.Equal(new NflogRecord(0, "", Hook.Input, 0), Assert.Single(observer.Records));
    }
}
