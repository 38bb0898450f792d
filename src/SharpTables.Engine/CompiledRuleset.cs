using SharpTables.Rules.Model;

namespace SharpTables.Engine;

/// <summary>
/// An immutable, compiled snapshot of the IPv4 and IPv6 rulesets, ready for the packet path.
/// Built by <see cref="Compile"/>; swapped into a <see cref="NetfilterEngine"/> as a whole.
/// </summary>
public sealed partial class CompiledRuleset
{
    /// <summary>Compiles the rulesets (either may be null = no rules for that family).</summary>
    public static CompiledRuleset Compile(EngineState state, Ruleset? ipv4, Ruleset? ipv6 = null) => new(state, ipv4, ipv6);
}
