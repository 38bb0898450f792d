using SharpTables.Packets;
using SharpTables.Rules.Extensions;
using SharpTables.Rules.Model;

namespace SharpTables.Engine;

/// <summary>
/// The packet and byte counters of a rule or a policy, as listings read them: the sum of what
/// every thread counted (see <see cref="CounterSet"/>). While packets flow a reading may miss the
/// last few of them, never more.
/// </summary>
public sealed class CounterCell
{
    private readonly CounterSet _set;
    private readonly int _index;

    internal CounterCell(CounterSet set, int index)
    {
        _set = set;
        _index = index;
    }

    /// <summary>Packets counted.</summary>
    public ulong Packets => Value.Packets;
    /// <summary>Bytes counted (IP header and payload).</summary>
    public ulong Bytes => Value.Bytes;
    /// <summary>Both, read together.</summary>
    public Counters Value => _set.Read(_index);
}

/// <summary>
/// All counters of one compiled ruleset, striped per thread: the values the rules came with,
/// plus one array per thread that walked the ruleset, which only that thread writes (plain adds,
/// no atomics, no cache line shared with another walker) and readers sum. A thread's array stays
/// with the ruleset, so nothing counted is lost when the thread ends.
/// </summary>
internal sealed class CounterSet
{
    /// <summary>Counts before the first index and after the last, so no other object shares a thread's cache lines.</summary>
    private const int Padding = 16;

    private readonly Lock _lock = new();
    private long[] _initial = new long[64];
    private int _length = Padding;
    private long[][] _threads = [];
    private readonly List<(WalkGate.Slot Slot, long[] Counters)> _owners = [];

    /// <summary>A new counter (while compiling); its packets sit at the returned index, its bytes right after.</summary>
    public int Add(Counters initial)
    {
        if (_length + 2 > _initial.Length) Array.Resize(ref _initial, _initial.Length * 2);
        int index = _length;
        _initial[index] = (long)initial.Packets;
        _initial[index + 1] = (long)initial.Bytes;
        _length += 2;
        return index;
    }

    /// <summary>The calling thread's array (its slot remembers the last one it used).</summary>
    public long[] For(WalkGate.Slot slot)
    {
        if (ReferenceEquals(slot.CountersOf, this)) return slot.Counters!;
        long[] counters;
        lock (_lock) counters = Owned(slot) ?? Attach(slot);
        slot.CountersOf = this;
        slot.Counters = counters;
        return counters;
    }

    private long[]? Owned(WalkGate.Slot slot)
    {
        foreach (var (owner, counters) in _owners)
            if (owner == slot) return counters;
        return null;
    }

    private long[] Attach(WalkGate.Slot slot)
    {
        var counters = new long[_length + Padding];
        _owners.Add((slot, counters));
        Volatile.Write(ref _threads, [.. _threads, counters]);
        return counters;
    }

    /// <summary>The counter at <paramref name="index"/>: its initial value plus every thread's count.</summary>
    public Counters Read(int index)
    {
        long packets = _initial[index], bytes = _initial[index + 1];
        foreach (var t in Volatile.Read(ref _threads))
        {
            packets += Volatile.Read(ref t[index]);
            bytes += Volatile.Read(ref t[index + 1]);
        }
        return new Counters((ulong)packets, (ulong)bytes);
    }
}

/// <summary>What a rule does once all its matches matched.</summary>
internal enum RuleAction : byte { Accept, Drop, Return, Queue, Jump, Goto, Extension, None }

/// <summary>One rule, compiled: the header filter (ip_packet_match), matches, action and counters.</summary>
internal sealed class CompiledRule
{
    public required RuleEntry Source { get; init; }
    public required int Number { get; init; }
    public UInt128 Src, SrcMask, Dst, DstMask;
    public bool InvSrc, InvDst;
    public string InIface = "", OutIface = "";
    public bool InPrefix, OutPrefix, InvIn, InvOut;
    public byte Proto;
    public bool InvProto;
    public FragmentMatch Frag;
    public CompiledMatch[] Matches = [];
    public RuleAction Action;
    public CompiledChain? JumpTo;
    public CompiledTarget? Target;
    /// <summary>Where the rule's counter sits in its ruleset's <see cref="CounterSet"/>.</summary>
    public required int CounterIndex { get; init; }
    public required CounterCell Counters { get; init; }

    /// <summary>ip_packet_match / ip6_packet_match: addresses, interfaces, protocol, fragments.</summary>
    public bool HeaderMatches(Packet p)
    {
        ref readonly var info = ref p.Info;
        if (((info.Source & SrcMask) != Src) != InvSrc) return false;
        if (((info.Destination & DstMask) != Dst) != InvDst) return false;
        if (InIface.Length != 0 && IfaceMatches(p.In, InIface, InPrefix) == InvIn) return false;
        if (OutIface.Length != 0 && IfaceMatches(p.Out, OutIface, OutPrefix) == InvOut) return false;
        if (Proto != 0 && (info.Protocol == Proto) == InvProto) return false;
        if (Frag == FragmentMatch.Fragments && !info.IsFragment) return false;
        if (Frag == FragmentMatch.NotFragments && info.IsFragment) return false;
        return true;
    }

    private static bool IfaceMatches(NetInterface? iface, string pattern, bool prefix)
    {
        string name = iface?.Name ?? "";
        return prefix ? name.AsSpan().StartsWith(pattern) : name == pattern;
    }
}

/// <summary>A chain: its rules, and for a built-in chain the policy and policy counters.</summary>
public sealed class CompiledChain
{
    internal CompiledChain(string table, Chain source, CounterSet counters)
    {
        Table = table;
        Name = source.Name;
        Source = source;
        IsBuiltin = source.IsBuiltin;
        PolicyDrop = source.Policy == "DROP";
        PolicyIndex = counters.Add(source.PolicyCounters);
        PolicyCounters = new CounterCell(counters, PolicyIndex);
    }

    public string Table { get; }
    public string Name { get; }
    public bool IsBuiltin { get; }
    public bool PolicyDrop { get; }
    public CounterCell PolicyCounters { get; }
    internal int PolicyIndex { get; }
    internal Chain Source { get; }
    internal CompiledRule[] Rules = [];

    public int RuleCount => Rules.Length;
    /// <summary>The canonical text of rule <paramref name="index"/> (0-based), without "-A CHAIN".</summary>
    public string RuleText(int index) => Rules[index].Source.Rule.Canonical;
    public CounterCell RuleCounters(int index) => Rules[index].Counters;
}

/// <summary>One table of one family, compiled.</summary>
public sealed class CompiledTable
{
    internal CompiledTable(string name, int priority)
    {
        Name = name;
        Priority = priority;
    }

    public string Name { get; }
    public int Priority { get; }
    internal readonly Dictionary<string, CompiledChain> Chains = new(StringComparer.Ordinal);
    internal readonly CompiledChain?[] HookChains = new CompiledChain?[5];

    public IEnumerable<CompiledChain> AllChains => Chains.Values;
    public CompiledChain? Chain(string name) => Chains.GetValueOrDefault(name);
}

/// <summary>What the walker does at one position of a hook.</summary>
internal enum StepKind : byte { Table, Defrag, ConntrackIn, Nat, Confirm }

internal readonly record struct HookStep(StepKind Kind, int Priority, CompiledTable? Table, CompiledChain? Chain);

/// <summary>The compiled tables of one family and, per hook, the steps in priority order.</summary>
public sealed class FamilyRules
{
    internal FamilyRules(Family family) => Family = family;

    public Family Family { get; }
    /// <summary>Whether some rule needs connection tracking (state, conntrack, NAT, …), which makes the kernel track every packet.</summary>
    public bool ConntrackEnabled { get; internal set; }
    internal readonly List<CompiledTable> Tables = [];
    internal readonly HookStep[][] Hooks = new HookStep[5][];

    public CompiledTable? Table(string name) => Tables.Find(t => t.Name == name);
    public IReadOnlyList<CompiledTable> AllTables => Tables;
}

public sealed partial class CompiledRuleset
{
    private const int PriDefrag = -400, PriRaw = -300, PriConntrack = -200, PriNatDst = -100, PriNatSrc = 100, PriConfirm = int.MaxValue;

    private CompiledRuleset(EngineState state, Ruleset? ipv4, Ruleset? ipv6)
    {
        IPv4 = CompileFamily(state, ipv4, Family.IPv4, Counters);
        IPv6 = CompileFamily(state, ipv6, Family.IPv6, Counters);
    }

    /// <summary>Every rule's and policy's counter.</summary>
    internal CounterSet Counters { get; } = new();

    public FamilyRules IPv4 { get; }
    public FamilyRules IPv6 { get; }

    public FamilyRules For(byte version) => version == 6 ? IPv6 : IPv4;

    /// <summary>Copies the live counters into a ruleset (for listing and saving), matching rules by table, chain and position.</summary>
    public void CopyCountersTo(Ruleset target)
    {
        var fam = target.Family == Family.IPv6 ? IPv6 : IPv4;
        foreach (var table in target.Tables)
        {
            var ct = fam.Table(table.Name);
            if (ct == null) continue;
            foreach (var chain in table.Chains)
            {
                var cc = ct.Chain(chain.Name);
                if (cc == null) continue;
                if (chain.IsBuiltin) chain.PolicyCounters = cc.PolicyCounters.Value;
                for (int i = 0; i < chain.Rules.Count && i < cc.Rules.Length; i++)
                    if (ReferenceEquals(chain.Rules[i].Rule, cc.Rules[i].Source.Rule) || chain.Rules[i].Rule.SameAs(cc.Rules[i].Source.Rule))
                        chain.Rules[i].Counters = cc.Rules[i].Counters.Value;
            }
        }
    }

    private static FamilyRules CompileFamily(EngineState state, Ruleset? rules, Family family, CounterSet counters)
    {
        var fam = new FamilyRules(family);
        if (rules != null)
        {
            foreach (var table in rules.Tables)
            {
                var ct = new CompiledTable(table.Name, table.Definition.Priority);
                foreach (var chain in table.Chains)
                {
                    var cc = new CompiledChain(table.Name, chain, counters);
                    ct.Chains[chain.Name] = cc;
                    if (chain.Hook is Hook h) ct.HookChains[(int)h] = cc;
                }
                foreach (var cc in ct.Chains.Values) cc.Rules = new CompiledRule[cc.Source.Rules.Count];
                fam.Tables.Add(ct);
                if (table.Name == "nat") fam.ConntrackEnabled = true;
            }
            // Rules are compiled in the order they were created (a restore file's order), not in
            // listing order (user chains sorted by name): the first rule naming a recent list or a
            // hashlimit table gives it its mask and sizes, as checkentry does in the kernel.
            var order = new List<(CompiledTable Table, CompiledChain Chain, int Index)>();
            foreach (var ct in fam.Tables)
                foreach (var cc in ct.Chains.Values)
                    for (int i = 0; i < cc.Rules.Length; i++) order.Add((ct, cc, i));
            order.Sort(static (a, b) => a.Chain.Source.Rules[a.Index].Rule.Serial.CompareTo(b.Chain.Source.Rules[b.Index].Rule.Serial));
            foreach (var (ct, cc, i) in order) cc.Rules[i] = CompileRule(state, family, ct, cc, i, counters);
            if (!fam.ConntrackEnabled)
                fam.ConntrackEnabled = rules.Tables.Any(t => t.Chains.Any(c => c.Rules.Any(r => NeedsConntrack(r.Rule))));
        }
        for (int h = 0; h < 5; h++) fam.Hooks[h] = Plan(fam, (Hook)h);
        return fam;
    }

    /// <summary>Extensions whose kernel checkentry calls nf_ct_netns_get, switching on conntrack for the family.</summary>
    private static bool NeedsConntrack(Rule rule)
    {
        foreach (var m in rule.Matches)
            if (m.Extension.Name is "state" or "conntrack" or "connmark" or "connlimit" or "cluster" or "helper" or "connbytes" or "connlabel")
                return true;
        return rule.Target?.Extension.Name is "CONNMARK" or "CT" or "NOTRACK" or "CONNSECMARK" or "SNAT" or "DNAT" or "MASQUERADE" or "REDIRECT" or "NETMAP";
    }

    private static HookStep[] Plan(FamilyRules fam, Hook hook)
    {
        var steps = new List<HookStep>();
        foreach (var t in fam.Tables)
        {
            var chain = t.HookChains[(int)hook];
            if (chain == null) continue;
            if (t.Name == "nat")
            {
                int pri = hook is Hook.PreRouting or Hook.Output ? PriNatDst : PriNatSrc;
                steps.Add(new HookStep(StepKind.Nat, pri, t, chain));
            }
            else steps.Add(new HookStep(StepKind.Table, t.Priority, t, chain));
        }
        if (fam.ConntrackEnabled)
        {
            if (hook is Hook.PreRouting or Hook.Output)
            {
                steps.Add(new HookStep(StepKind.Defrag, PriDefrag, null, null));
                steps.Add(new HookStep(StepKind.ConntrackIn, PriConntrack, null, null));
            }
            if (hook is Hook.Input or Hook.PostRouting)
                steps.Add(new HookStep(StepKind.Confirm, PriConfirm, null, null));
        }
        // Stable sort by priority (List.Sort is not stable: sort with the index as tiebreak).
        return steps.Select((s, i) => (s, i)).OrderBy(x => x.s.Priority).ThenBy(x => x.i).Select(x => x.s).ToArray();
    }

    private static CompiledRule CompileRule(EngineState state, Family family, CompiledTable table, CompiledChain chain, int i, CounterSet counters)
    {
        var entry = chain.Source.Rules[i];
        var rule = entry.Rule;
        var h = rule.Header;
        int counter = counters.Add(entry.Counters);
        var cr = new CompiledRule
        {
            Source = entry,
            Number = i + 1,
            CounterIndex = counter,
            Counters = new CounterCell(counters, counter),
            Src = h.Source & h.SourceMask,
            SrcMask = h.SourceMask,
            Dst = h.Destination & h.DestinationMask,
            DstMask = h.DestinationMask,
            InvSrc = h.InvertSource,
            InvDst = h.InvertDestination,
            InIface = h.InInterface.TrimEnd('+'),
            InPrefix = h.InInterface.EndsWith('+'),
            InvIn = h.InvertIn,
            OutIface = h.OutInterface.TrimEnd('+'),
            OutPrefix = h.OutInterface.EndsWith('+'),
            InvOut = h.InvertOut,
            Proto = (byte)h.Protocol,
            InvProto = h.InvertProtocol,
            Frag = h.Fragment,
        };
        // "eth+" with nothing before the '+' matches every interface, like an empty name.
        if (cr.InPrefix && cr.InIface.Length == 0 && !cr.InvIn) cr.InPrefix = false;
        if (cr.OutPrefix && cr.OutIface.Length == 0 && !cr.InvOut) cr.OutPrefix = false;
        var matches = new CompiledMatch[rule.Matches.Length];
        for (int m = 0; m < matches.Length; m++)
            matches[m] = CompilerRegistry.CompileMatch(rule.Matches[m], Context(state, family, table, chain, rule, m));
        cr.Matches = matches;
        switch (rule.Target)
        {
            case null:
                cr.Action = RuleAction.None;
                break;
            case VerdictTarget v:
                cr.Action = v.Verdict switch
                {
                    "ACCEPT" => RuleAction.Accept,
                    "DROP" => RuleAction.Drop,
                    "RETURN" => RuleAction.Return,
                    _ => RuleAction.Queue,
                };
                break;
            case JumpTarget j:
                cr.Action = j.IsGoto ? RuleAction.Goto : RuleAction.Jump;
                cr.JumpTo = table.Chains.GetValueOrDefault(j.Chain)
                    ?? throw new InvalidOperationException($"chain {j.Chain} does not exist in table {table.Name}");
                break;
            case var t:
                cr.Action = RuleAction.Extension;
                cr.Target = CompilerRegistry.CompileTarget(t, Context(state, family, table, chain, rule, -1));
                break;
        }
        return cr;
    }

    private static CompileContext Context(EngineState state, Family family, CompiledTable table, CompiledChain chain, Rule rule, int index) =>
        new() { State = state, Family = family, Table = table.Name, Chain = chain.Name, Rule = rule, MatchIndex = index };
}
