using System.Buffers.Binary;
using SharpTables.Packets;
using SharpTables.Rules.Extensions.Frag;

namespace SharpTables.Engine.Matches;

/// <summary>
/// <c>-m frag</c> (ip6t_frag's frag_mt6): the IPv6 fragment header, found the way
/// <c>ipv6_find_hdr(skb, &amp;ptr, NEXTHDR_FRAGMENT, ...)</c> finds it. No fragment header: no
/// match; a header chain cut short before it, or a fragment header that is not all there: the
/// packet is hot-dropped. The identification must lie in the range (inverted with <c>!</c>);
/// <c>--fragres</c> wants the reserved byte and bits zero, <c>--fragfirst</c> offset 0,
/// <c>--fragmore</c>/<c>--fraglast</c> the M flag set/clear. <c>--fraglen</c> is not tested,
/// as in the kernel.
/// </summary>
public sealed class FragMatchCompiler : MatchCompiler<FragMatch>
{
    protected override CompiledMatch Compile(FragMatch m, CompileContext ctx) =>
        new Compiled(m.Flags, m.IdMin, m.IdMax, m.InvertIds);

    private sealed class Compiled(FragFlags flags, uint idMin, uint idMax, bool invertIds) : CompiledMatch
    {
        public override bool Matches(Packet p, ref bool hotdrop)
        {
            if (!p.Info.IsIPv6) return false;
            var bytes = p.IpBytes;
            var walk = new Ipv6ExtensionHeaderEnumerator(bytes);
            while (walk.MoveNext())
            {
                var h = walk.Current;
                if (h.Type != IpProtocol.Fragment) continue;
                if (h.Offset + 8 > bytes.Length)
                {
                    hotdrop = true;
                    return false;
                }
                var fh = bytes.Slice(h.Offset, 8);
                uint id = BinaryPrimitives.ReadUInt32BigEndian(fh[4..]);
                ushort fragOff = BinaryPrimitives.ReadUInt16BigEndian(fh[2..]);
                bool idOk = (id >= idMin && id <= idMax) ^ invertIds;
                return idOk
                    && !((flags & FragFlags.Reserved) != 0 && (fh[1] != 0 || (fragOff & 0x6) != 0))
                    && !((flags & FragFlags.First) != 0 && (fragOff & ~0x7) != 0)
                    && !((flags & FragFlags.More) != 0 && (fragOff & 1) == 0)
                    && !((flags & FragFlags.Last) != 0 && (fragOff & 1) != 0);
            }
            if (walk.Truncated) hotdrop = true;
            return false;
        }
    }
}
