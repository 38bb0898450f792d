using SharpTables.Rules.Model;

namespace SharpTables.Engine;

/// <summary>
/// An immutable, compiled snapshot of the IPv4 and IPv6 rulesets, ready for the packet path.
/// Built by <see cref="Compile"/>; swapped into a <see cref="NetfilterEngine"/> as a whole.
/// </summary>
public sealed partial class CompiledRuleset : IDisposable
{
    private int _disposed;

    /// <summary>
    /// Releases what the compiled matches and targets hold (named recent and hashlimit tables).
    /// Call it on the old ruleset after its successor is compiled, so tables that rules of both
    /// use survive the swap, as with iptables-nft.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        foreach (var fam in new[] { IPv4, IPv6 })
            foreach (var t in fam.Tables)
                foreach (var c in t.Chains.Values)
                    foreach (var r in c.Rules)
                    {
                        foreach (var m in r.Matches) (m as IDisposable)?.Dispose();
                        (r.Target as IDisposable)?.Dispose();
                    }
    }

    /// <summary>Compiles the rulesets (either may be null = no rules for that family).</summary>
    public static CompiledRuleset Compile(EngineState state, Ruleset? ipv4, Ruleset? ipv6 = null) => new(state, ipv4, ipv6);
}
