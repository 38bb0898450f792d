using SharpTables.Rules.Extensions.Tos;

namespace SharpTables.Engine.Matches;

/// <summary><c>-m tos</c> revision 1 (xt_dscp's tos_mt): (TOS or traffic class &amp; mask) == value.</summary>
public sealed class TosMatchCompiler : MatchCompiler<TosMatch>
{
    protected override CompiledMatch Compile(TosMatch m, CompileContext ctx) => new Compiled(m.Value, m.Mask, m.Invert);

    private sealed class Compiled(byte value, byte mask, bool invert) : CompiledMatch
    {
        public override bool Matches(Packet p, ref bool hotdrop) => ((p.Info.Tos & mask) == value) ^ invert;
    }
}
