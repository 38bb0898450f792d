using SharpTables.Rules.Extensions;

namespace SharpTables.Rules.Model;

/// <summary>
/// All tables of one address family. Mutable: commands edit it in place; the engine compiles
/// an immutable snapshot from it. Tables exist only once something touched them, as with the
/// nf_tables backend (iptables-save prints only those).
/// </summary>
public sealed class Ruleset
{
    private readonly List<Table> _tables = [];

    public Ruleset(Family family = Family.IPv4) => Family = family;

    public Family Family { get; }

    /// <summary>Tables that exist, in the order iptables-save prints them.</summary>
    public IEnumerable<Table> Tables =>
        _tables.OrderBy(t => BuiltinTables.All.ToList().FindIndex(d => d.Name == t.Name));

    public Table? Find(string name) => _tables.Find(t => t.Name == name);

    /// <summary>The table, created with its built-in chains (policy ACCEPT) on first use.</summary>
    public Table GetOrCreate(string name)
    {
        var t = Find(name);
        if (t != null) return t;
        var def = BuiltinTables.Find(name) ?? throw new ArgumentException($"no such table {name}");
        t = new Table(def);
        _tables.Add(t);
        return t;
    }

    public void Remove(string name) => _tables.RemoveAll(t => t.Name == name);

    public void Replace(Table table)
    {
        int i = _tables.FindIndex(t => t.Name == table.Name);
        if (i >= 0) _tables[i] = table; else _tables.Add(table);
    }

    public Ruleset Clone()
    {
        var r = new Ruleset(Family);
        foreach (var t in _tables) r._tables.Add(t.Clone());
        return r;
    }
}

public sealed class Table
{
    private readonly List<Chain> _chains = [];

    public Table(BuiltinTables.TableDef def)
    {
        Definition = def;
        foreach (var (name, hook) in def.Chains)
            _chains.Add(new Chain(name, hook, "ACCEPT"));
    }

    private Table(BuiltinTables.TableDef def, bool empty) => Definition = def;

    public BuiltinTables.TableDef Definition { get; }
    public string Name => Definition.Name;

    /// <summary>Built-in chains first (hook order), then user chains sorted byte-wise by name, as iptables-nft lists them.</summary>
    public IReadOnlyList<Chain> Chains
    {
        get
        {
            if (!_sorted)
            {
                _chains.Sort(static (a, b) =>
                    a.IsBuiltin && b.IsBuiltin ? a.Hook!.Value.CompareTo(b.Hook!.Value)
                    : a.IsBuiltin ? -1 : b.IsBuiltin ? 1 : string.CompareOrdinal(a.Name, b.Name));
                _sorted = true;
            }
            return _chains;
        }
    }

    private bool _sorted;

    /// <summary>Call after renaming a chain so the order is recomputed.</summary>
    public void ChainRenamed() => _sorted = false;

    public IEnumerable<Chain> UserChains => _chains.Where(c => !c.IsBuiltin);

    public Chain? Find(string name)
    {
        foreach (var c in _chains) if (c.Name == name) return c;
        return null;
    }

    public Chain AddUserChain(string name)
    {
        var c = new Chain(name, null, null);
        _chains.Add(c);
        _sorted = false;
        return c;
    }

    public void RemoveChain(Chain c) => _chains.Remove(c);

    /// <summary>How many rules of this table jump or go to <paramref name="chain"/>.</summary>
    public int References(string chain)
    {
        int n = 0;
        foreach (var c in _chains)
            foreach (var r in c.Rules)
                if (r.Rule.Target is JumpTarget j && j.Chain == chain) n++;
        return n;
    }

    public Table Clone()
    {
        var t = new Table(Definition, empty: true);
        foreach (var c in _chains) t._chains.Add(c.Clone());
        return t;
    }
}

public sealed class Chain
{
    public Chain(string name, Hook? hook, string? policy)
    {
        Name = name;
        Hook = hook;
        Policy = policy;
    }

    public string Name { get; set; }

    /// <summary>The hook of a built-in chain; null for a user-defined chain.</summary>
    public Hook? Hook { get; }
    public bool IsBuiltin => Hook.HasValue;

    /// <summary>ACCEPT or DROP for a built-in chain; null for a user chain.</summary>
    public string? Policy { get; set; }
    public Counters PolicyCounters;

    public List<RuleEntry> Rules { get; } = [];

    public Chain Clone()
    {
        var c = new Chain(Name, Hook, Policy) { PolicyCounters = PolicyCounters };
        foreach (var r in Rules) c.Rules.Add(new RuleEntry(r.Rule, r.Counters));
        return c;
    }
}

/// <summary>A rule in a chain with its counters. The rule itself is immutable.</summary>
public sealed class RuleEntry(Rule rule, Counters counters = default)
{
    public Rule Rule { get; set; } = rule;
    public Counters Counters = counters;
}
