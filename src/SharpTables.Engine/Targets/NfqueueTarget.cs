using System.Buffers.Binary;
using SharpTables.Rules.Extensions.Nfqueue;

namespace SharpTables.Engine.Targets;

/// <summary>
/// <c>-j NFQUEUE</c> revision 3 (xt_NFQUEUE's nfqueue_tg_v3): returns <see cref="TargetVerdict.Queue"/>
/// with the queue in <see cref="Packet.QueueNumber"/> and <c>--queue-bypass</c> in
/// <see cref="Packet.QueueBypass"/>. <c>--queue-balance</c> spreads flows as nfqueue_hash does:
/// jhash of the address pair (ordered, so both directions share a queue) and the protocol,
/// scaled onto the range. <c>--queue-cpu-fanout</c> uses the CPU number instead; the engine runs
/// on one CPU, number 0, so it always picks the first queue.
/// </summary>
public sealed class NfqueueTargetCompiler : TargetCompiler<NfqueueTarget>
{
    /// <summary>
    /// The jhash seed (the kernel's jhash_initval, random at boot and never 0). Fixed here so runs
    /// are reproducible; set it before compiling to mimic another boot.
    /// </summary>
    public static uint HashSeed { get; set; } = 0x2545F491;

    protected override CompiledTarget Compile(NfqueueTarget t, CompileContext ctx) =>
        new Compiled(t.QueueNum, t.QueuesTotal, t.Bypass, t.CpuFanout, HashSeed);

    private sealed class Compiled(ushort queue, ushort total, bool bypass, bool cpuFanout, uint seed) : CompiledTarget
    {
        public override TargetVerdict Execute(Packet p, in TargetContext ctx)
        {
            uint q = queue;
            if (total > 1 && !cpuFanout) q += Scale(Hash(p, seed), total);
            p.QueueNumber = (ushort)q;
            p.QueueBypass = bypass;
            return TargetVerdict.Queue;
        }
    }

    /// <summary>reciprocal_scale: maps a 32-bit hash onto [0, <paramref name="range"/>).</summary>
    internal static uint Scale(uint hash, uint range) => (uint)(((ulong)hash * range) >> 32);

    /// <summary>
    /// hash_v4 / hash_v6. The kernel compares and hashes the addresses as raw 32-bit loads of
    /// network-order bytes on a little-endian CPU (x86), so the words are read little-endian here.
    /// </summary>
    internal static uint Hash(Packet p, uint seed)
    {
        var b = p.Bytes;
        if (p.Info.IsIPv6)
        {
            if (b.Length < 40) return 0;
            uint s3 = BinaryPrimitives.ReadUInt32LittleEndian(b[20..]), d3 = BinaryPrimitives.ReadUInt32LittleEndian(b[36..]);
            uint s1 = BinaryPrimitives.ReadUInt32LittleEndian(b[12..]), d1 = BinaryPrimitives.ReadUInt32LittleEndian(b[28..]);
            uint a = s3 < d3 ? s3 : d3, bb = s3 < d3 ? d3 : s3;
            return JHash3(a, bb, s1 < d1 ? s1 : d1, seed);
        }
        if (b.Length < 20) return 0;
        uint src = BinaryPrimitives.ReadUInt32LittleEndian(b[12..]), dst = BinaryPrimitives.ReadUInt32LittleEndian(b[16..]);
        return src < dst ? JHash3(src, dst, b[9], seed) : JHash3(dst, src, b[9], seed);
    }

    /// <summary>jhash_3words (include/linux/jhash.h): __jhash_nwords with initval + JHASH_INITVAL + 12, then __jhash_final.</summary>
    internal static uint JHash3(uint a, uint b, uint c, uint initval)
    {
        uint iv = initval + 0xdeadbeef + (3 << 2);
        a += iv;
        b += iv;
        c += iv;
        c ^= b; c -= uint.RotateLeft(b, 14);
        a ^= c; a -= uint.RotateLeft(c, 11);
        b ^= a; b -= uint.RotateLeft(a, 25);
        c ^= b; c -= uint.RotateLeft(b, 16);
        a ^= c; a -= uint.RotateLeft(c, 4);
        b ^= a; b -= uint.RotateLeft(a, 14);
        c ^= b; c -= uint.RotateLeft(b, 24);
        return c;
    }
}
