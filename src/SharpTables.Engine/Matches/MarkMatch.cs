using SharpTables.Rules.Extensions.Mark;

namespace SharpTables.Engine.Matches;

/// <summary>
/// <c>-m mark</c>: iptables-nft emits it natively (<c>meta mark &amp; MASK ==/!= VALUE</c>);
/// the packet mark always exists, so there is no failure case.
/// </summary>
public sealed class MarkMatchCompiler : MatchCompiler<MarkMatch>
{
    protected override CompiledMatch Compile(MarkMatch m, CompileContext ctx) => new Compiled(m.Value, m.Mask, m.Invert);

    private sealed class Compiled(uint value, uint mask, bool invert) : CompiledMatch
    {
        public override bool Matches(Packet p, ref bool hotdrop) => ((p.Mark & mask) == value) ^ invert;
    }
}
