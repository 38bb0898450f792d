using SharpTables.Rules.Extensions.Multiport;

namespace SharpTables.Engine.Matches;

/// <summary>
/// <c>-m multiport</c> revision 1 (xt_multiport's ports_match_v1). It reads the two 16-bit
/// words at the transport header whatever the protocol (TCP, UDP, UDP-Lite, SCTP and DCCP all
/// start with the ports); the first listed port or range that hits decides.
/// </summary>
public sealed class MultiportMatchCompiler : MatchCompiler<MultiportMatch>
{
    protected override CompiledMatch Compile(MultiportMatch m, CompileContext ctx)
    {
        var min = new ushort[m.Ranges.Length];
        var max = new ushort[m.Ranges.Length];
        for (int i = 0; i < min.Length; i++) (min[i], max[i]) = m.Ranges[i];
        return new Compiled(m.Direction, min, max, m.Invert);
    }

    private sealed class Compiled(MultiportDirection direction, ushort[] min, ushort[] max, bool invert) : CompiledMatch
    {
        public override bool Matches(Packet p, ref bool hotdrop)
        {
            if (XtPacket.FragmentOffset(p) != 0) return false;
            if (!XtPacket.HasTransportBytes(p, 0, 4))
            {
                hotdrop = true;
                return false;
            }
            ushort src = XtPacket.TransportU16(p, 0), dst = XtPacket.TransportU16(p, 2);
            for (int i = 0; i < min.Length; i++)
            {
                bool hit = direction switch
                {
                    MultiportDirection.Source => src >= min[i] && src <= max[i],
                    MultiportDirection.Destination => dst >= min[i] && dst <= max[i],
                    _ => (src >= min[i] && src <= max[i]) || (dst >= min[i] && dst <= max[i]),
                };
                if (hit) return !invert;
            }
            return invert;
        }
    }
}
