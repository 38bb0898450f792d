using System.Runtime.CompilerServices;
using SharpTables.Rules.Model;

namespace SharpTables.Engine.State;

/// <summary>
/// Per-rule extension state that must outlive a ruleset swap (limit buckets, hashlimit tables):
/// keyed by the immutable <see cref="Rule"/> object and the match's position in it, so a rule
/// that survives an edit keeps its state and a new rule starts fresh, as with iptables-nft.
/// Only used while compiling, never per packet.
/// </summary>
public sealed class RuleStateStore
{
    private readonly ConditionalWeakTable<Rule, Dictionary<int, object>> _states = new();
    private readonly Lock _lock = new();

    public T Get<T>(Rule rule, int slot, Func<T> create) where T : class
    {
        lock (_lock)
        {
            var d = _states.GetValue(rule, static _ => new Dictionary<int, object>());
            if (d.TryGetValue(slot, out var o) && o is T t) return t;
            var n = create();
            d[slot] = n;
            return n;
        }
    }
}
