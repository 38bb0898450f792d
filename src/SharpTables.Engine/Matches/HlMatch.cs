using SharpTables.Rules.Extensions.Hl;
using SharpTables.Rules.Extensions.Ttl;

namespace SharpTables.Engine.Matches;

/// <summary><c>-m hl</c> (xt_hl's hl_mt6): compares the IPv6 hop limit.</summary>
public sealed class HlMatchCompiler : MatchCompiler<HlMatch>
{
    protected override CompiledMatch Compile(HlMatch m, CompileContext ctx) => new Compiled(m.Mode, m.Value);

    private sealed class Compiled(TtlMode mode, byte value) : CompiledMatch
    {
        public override bool Matches(Packet p, ref bool hotdrop)
        {
            byte hl = p.Info.Ttl;
            return mode switch
            {
                TtlMode.Equal => hl == value,
                TtlMode.NotEqual => hl != value,
                TtlMode.Less => hl < value,
                _ => hl > value,
            };
        }
    }
}
