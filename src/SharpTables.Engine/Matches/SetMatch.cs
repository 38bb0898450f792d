using SharpTables.Rules.Extensions.Set;

namespace SharpTables.Engine.Matches;

/// <summary>
/// <c>-m set</c> (xt_set revision 4). SharpTables keeps no ipset contents, so every set is
/// empty: ip_set_test never hits, and match_set returns the inversion flag (a plain
/// <c>--match-set</c> never matches, <c>! --match-set</c> always does; counter conditions are
/// only checked on a hit). With the default registry no rule can even name a set.
/// </summary>
public sealed class SetMatchCompiler : MatchCompiler<SetMatch>
{
    protected override CompiledMatch Compile(SetMatch m, CompileContext ctx) => m.Invert ? Fixed.True : Fixed.False;

    private sealed class Fixed(bool result) : CompiledMatch
    {
        public static readonly Fixed True = new(true), False = new(false);

        public override bool Matches(Packet p, ref bool hotdrop) => result;
    }
}
