using System.Text;
using System.Text.Json.Nodes;
using SharpTables.Rules;
using SharpTables.Rules.Commands;
using SharpTables.Rules.Model;

namespace SharpTables.DiffTest.Generation;

/// <summary>Knobs of the generator.</summary>
internal sealed record GeneratorOptions
{
    /// <summary>Cases per oracle run (the tail case included).</summary>
    public int CasesPerBatch { get; init; } = 20;
    public int MinFlows { get; init; } = 5;
    public int MaxFlows { get; init; } = 9;
}

/// <summary>
/// Builds one batch: several independent cases in one ruleset and one scenario, each case reached only
/// by its own packets.
/// <para>How cases are kept apart (everything that crosses case borders in the kernel):</para>
/// <list type="bullet">
/// <item>Packets: each case owns a /30 of client-side (and, in router batches, backend-side) addresses; in every
/// built-in chain of every table, <c>-s BLOCK -j cK_CHAIN_w</c> and <c>-d BLOCK -j cK_CHAIN_w</c> send its packets,
/// and the firewall's answers to them (REJECT replies, RSTs, SYN-ACKs, ICMP errors), into the case's chains.</item>
/// <item>Policies are shared, so each case's wrapper chain <c>cK_CHAIN_w</c> is <c>-j cK_CHAIN</c> (the case's
/// rules) followed by <c>-j POLICY</c>: the second rule's counter is the case's emulated policy counter, and
/// RETURN or falling off a goto chain ends there exactly as it would at a built-in policy.</item>
/// <item>The tail case's rules sit directly in the built-in chains after all dispatch rules, under the real
/// policies, so the real built-in chain semantics (RETURN from a built-in chain, real policy counters) are
/// tested too.</item>
/// <item>recent lists, hashlimit tables and LOG prefixes carry the case id; conntrack entries are separated by
/// the addresses; limit/connlimit state is per rule.</item>
/// <item>Not separated: whether conntrack runs at all (any case needing it turns it on for the namespace,
/// which also turns on defragmentation), and NAT that rewrites an address to one no case owns
/// (MASQUERADE/SNAT replies reach raw/mangle PREROUTING before they are un-NATed). Both are deterministic
/// and the whole batch is the unit of comparison.</item>
/// </list>
/// </summary>
internal static class BatchGenerator
{
    /// <summary>Bumped whenever the same seed starts producing different batches.</summary>
    public const int Version = 1;

    /// <summary>Generates batch <paramref name="index"/> of the run with <paramref name="seed"/>, with <paramref name="cases"/> cases.</summary>
    public static BatchSpec Generate(ulong seed, int index, int cases, GeneratorOptions? options = null, IReadOnlyDictionary<int, int>? attempts = null)
    {
        options ??= new GeneratorOptions();
        var r = new Rng(Rng.Derive(seed, (ulong)index));
        bool router = r.Chance(0.5);
        bool conntrack = r.Chance(0.75);
        var tables = new List<string>();
        if (r.Chance(0.5)) tables.Add("mangle");
        if (r.Chance(0.35)) tables.Add("raw");
        tables.Add("filter");
        if (router && conntrack && r.Chance(0.6)) tables.Add("nat");
        var batch = new BatchSpec
        {
            Seed = seed, Index = index, Router = router, Conntrack = conntrack, TableNames = tables,
            Tag = (Rng.Derive(seed, (ulong)index, 0xA9) & 0xFFFF).ToString("x4"),
        };
        Listeners(batch);

        // Blocks are drawn at random so cases of different batches use different addresses.
        var blocks = Enumerable.Range(1, Topo.MaxBlocks).ToList();
        r.Shuffle(blocks);
        for (int id = 0; id < Math.Min(cases, Topo.MaxBlocks + 1); id++)
        {
            int attempt = attempts?.GetValueOrDefault(id) ?? 0;
            var cs = GenerateCase(batch, id, id == 0 ? 0 : blocks[id - 1], attempt, options);
            batch.Cases.Add(cs);
        }
        // The order of cases in the built-in chains: tail last (it is the catch-all).
        batch.Cases.Sort((a, b) => a.IsTail == b.IsTail ? a.Id.CompareTo(b.Id) : a.IsTail ? 1 : -1);
        Render(batch);
        Interleave(batch, r);
        return batch;
    }

    private static void Listeners(BatchSpec batch)
    {
        foreach (int p in FlowGenerator.FwTcpListeners)
            batch.Listeners.Add(new JsonObject { ["type"] = "listen", ["ns"] = "fw", ["proto"] = "tcp", ["port"] = p });
        foreach (int p in FlowGenerator.FwUdpListeners)
            batch.Listeners.Add(new JsonObject { ["type"] = "listen", ["ns"] = "fw", ["proto"] = "udp", ["port"] = p });
    }

    /// <summary>One case; regenerated with the next attempt number while our own parser refuses its rules.</summary>
    private static CaseSpec GenerateCase(BatchSpec batch, int id, int block, int attempt, GeneratorOptions o)
    {
        for (; ; attempt++)
        {
            var r = new Rng(Rng.Derive(batch.Seed, (ulong)batch.Index, (ulong)id + 1, (ulong)attempt));
            var cs = new CaseSpec(id, block);
            if (cs.IsTail)
            {
                // Crafted packets of the tail case use .3: the real client and backend (.2) would answer some of
                // them (echo replies, with IDs that can collide with the scenario's markers). .2 is used only by
                // real connections.
                cs.ClientAddrs.Add(Topo.ClientHost(3));
                if (batch.Router) cs.BackendAddrs.Add(Topo.BackendHost(3));
            }
            else
            {
                for (int i = 0; i < 4; i++) cs.ClientAddrs.Add(Topo.ClientHost(4 * block + i));
                if (batch.Router) for (int i = 0; i < 4; i++) cs.BackendAddrs.Add(Topo.BackendHost(4 * block + i));
            }
            new RuleGenerator(r, batch, cs).Generate();
            var text = RenderText(batch, [cs], null);
            if (Validate(text) is { } error)
            {
                batch.Notes.Add($"case {id} attempt {attempt}: our parser refused the rules: {error}");
                continue;
            }
            // Explicit source ports of multi-line flows: 300 per case from 20000 up (below the oracle's 40000+n defaults).
            int port = 20000 + 300 * id;
            new FlowGenerator(r, batch, cs, () => port++).Generate(r.Range(o.MinFlows, o.MaxFlows), cs.IsTail ? r.Weighted((50, 0), (50, 1)) : 0);
            if (attempt > 0) batch.Notes.Add($"case {id}: using attempt {attempt}");
            cs.Attempt = attempt;
            return cs;
        }
    }

    /// <summary>Parses a ruleset with SharpTables' iptables-restore (including its kernel-side checks); null when it loads.</summary>
    public static string? Validate(string rulesText)
    {
        try
        {
            Restore.Apply(new Ruleset(), rulesText, new RestoreOptions());
            return null;
        }
        catch (XtablesException e)
        {
            var lines = rulesText.Split('\n');
            string where = e.Line is int n && n >= 1 && n <= lines.Length ? $" [{lines[n - 1]}]" : "";
            return $"line {e.Line}: {e.Message.Trim()}{where}";
        }
    }

    private static void Render(BatchSpec batch)
    {
        batch.RulesText = RenderText(batch, batch.Cases, batch);
        if (Validate(batch.RulesText) is { } error)
            throw new InvalidOperationException($"batch {batch.Index}: generated ruleset does not load: {error}");
    }

    /// <summary>The iptables-restore text of <paramref name="cases"/>; fills ownership maps when <paramref name="owners"/> is given.</summary>
    private static string RenderText(BatchSpec batch, IReadOnlyList<CaseSpec> cases, BatchSpec? owners)
    {
        var sb = new StringBuilder();
        var lineOwners = new List<int>();
        void Line(string s, int owner) { sb.Append(s).Append('\n'); lineOwners.Add(owner); }
        var tail = cases.FirstOrDefault(c => c.IsTail);
        foreach (var table in Tables.Order)
        {
            if (!batch.TableNames.Contains(table)) continue;
            Line("*" + table, -1);
            var hooks = Tables.Chains(table);
            foreach (var h in hooks)
                Line($":{h} {tail?.Tables[table].Policies[h] ?? "ACCEPT"} [0:0]", -1);
            foreach (var c in cases)
            {
                var ct = c.Tables[table];
                foreach (var chain in ct.Chains)
                {
                    if (!chain.IsUser && (c.IsTail || chain.Rules.Count == 0)) continue;
                    if (!chain.IsUser) Line($":{chain.Name}_w - [0:0]", c.Id);
                    Line($":{chain.Name} - [0:0]", c.Id);
                }
            }
            foreach (var h in hooks)
            {
                var owned = new List<int>();
                foreach (var c in cases)
                {
                    if (c.IsTail) continue;
                    var blocks = batch.Router ? new[] { c.ClientBlock, c.BackendBlock } : [c.ClientBlock];
                    // A case without rules here goes straight to its policy (these rules count it).
                    var body = c.Tables[table].Body(h);
                    string to = body.Rules.Count == 0 ? c.Tables[table].Policies[h] : $"{body.Name}_w";
                    foreach (var b in blocks)
                        foreach (var dir in new[] { "-s", "-d" })
                        {
                            Line($"-A {h} {dir} {b} -j {to}", c.Id);
                            owned.Add(c.Id);
                        }
                }
                if (tail != null)
                    foreach (var rule in tail.Tables[table].Body(h).Rules)
                    {
                        Line($"-A {h} {rule}", 0);
                        owned.Add(0);
                    }
                if (owners != null) owners.BuiltinOwners[$"{table}/{h}"] = owned;
            }
            foreach (var c in cases)
            {
                var ct = c.Tables[table];
                foreach (var chain in ct.Chains)
                {
                    if (!chain.IsUser && (c.IsTail || chain.Rules.Count == 0)) continue;
                    if (!chain.IsUser)
                    {
                        Line($"-A {chain.Name}_w -j {chain.Name}", c.Id);
                        Line($"-A {chain.Name}_w -j {ct.Policies[chain.Hook]}", c.Id);
                    }
                    foreach (var rule in chain.Rules) Line($"-A {chain.Name} {rule}", c.Id);
                }
            }
            Line("COMMIT", -1);
        }
        if (owners != null) owners.RuleLineOwners = lineOwners;
        return sb.ToString();
    }

    /// <summary>Scenario lines: listeners, then the cases' flows merged at random (each flow stays in one piece).</summary>
    private static void Interleave(BatchSpec batch, Rng r)
    {
        foreach (var l in batch.Listeners) batch.Lines.Add((l, -1));
        var queues = batch.Cases.Select(c => (c.Id, Flows: new Queue<List<JsonObject>>(c.Flows))).ToList();
        int left = queues.Sum(q => q.Flows.Count);
        while (left > 0)
        {
            // Weighted by what is left, so cases end at about the same time.
            int pick = r.Next(left);
            foreach (var q in queues)
            {
                if (pick >= q.Flows.Count) { pick -= q.Flows.Count; continue; }
                foreach (var l in q.Flows.Dequeue())
                {
                    l["label"] = "c" + q.Id;
                    batch.Lines.Add((l, q.Id));
                }
                break;
            }
            left--;
        }
    }
}
