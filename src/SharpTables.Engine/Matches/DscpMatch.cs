using SharpTables.Rules.Extensions.Dscp;

namespace SharpTables.Engine.Matches;

/// <summary><c>-m dscp</c> (xt_dscp's dscp_mt): the upper six bits of the TOS byte or traffic class.</summary>
public sealed class DscpMatchCompiler : MatchCompiler<DscpMatch>
{
    protected override CompiledMatch Compile(DscpMatch m, CompileContext ctx) => new Compiled(m.Value, m.Invert);

    private sealed class Compiled(byte dscp, bool invert) : CompiledMatch
    {
        public override bool Matches(Packet p, ref bool hotdrop) => ((p.Info.Tos >> 2) == dscp) ^ invert;
    }
}
