using SharpTables.Rules.Extensions.Iprange;

namespace SharpTables.Engine.Matches;

/// <summary><c>-m iprange</c> revision 1 (xt_iprange's iprange_mt4): inclusive IPv4 address ranges.</summary>
public sealed class IprangeMatchCompiler : MatchCompiler<IprangeMatch>
{
    protected override CompiledMatch Compile(IprangeMatch m, CompileContext ctx) => new Compiled(
        m.HasSource, m.SourceMin, m.SourceMax, m.InvertSource, m.HasDest, m.DestMin, m.DestMax, m.InvertDest);

    private sealed class Compiled(bool hasSrc, uint srcMin, uint srcMax, bool invSrc, bool hasDst, uint dstMin, uint dstMax, bool invDst)
        : CompiledMatch
    {
        public override bool Matches(Packet p, ref bool hotdrop)
        {
            if (hasSrc)
            {
                uint a = (uint)p.Info.Source;
                if ((a >= srcMin && a <= srcMax) == invSrc) return false;
            }
            if (hasDst)
            {
                uint a = (uint)p.Info.Destination;
                if ((a >= dstMin && a <= dstMax) == invDst) return false;
            }
            return true;
        }
    }
}
