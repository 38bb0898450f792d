using SharpTables.Rules.Extensions.Ttl;

namespace SharpTables.Engine.Matches;

/// <summary><c>-m ttl</c> (xt_hl's ttl_mt): compares the IPv4 TTL.</summary>
public sealed class TtlMatchCompiler : MatchCompiler<TtlMatch>
{
    protected override CompiledMatch Compile(TtlMatch m, CompileContext ctx) => new Compiled(m.Mode, m.Value);

    private sealed class Compiled(TtlMode mode, byte value) : CompiledMatch
    {
        public override bool Matches(Packet p, ref bool hotdrop)
        {
            byte ttl = p.Info.Ttl;
            return mode switch
            {
                TtlMode.Equal => ttl == value,
                TtlMode.NotEqual => ttl != value,
                TtlMode.Less => ttl < value,
                _ => ttl > value,
            };
        }
    }
}
