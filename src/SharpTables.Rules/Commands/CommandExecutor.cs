using System.Text;
using SharpTables.Rules.Extensions;
using SharpTables.Rules.Model;
using SharpTables.Rules.Parsing;
using SharpTables.Rules.Printing;

namespace SharpTables.Rules.Commands;

/// <summary>
/// Applies a parsed iptables command to a <see cref="Ruleset"/> with iptables-nft's semantics and
/// messages. A command that fails changes nothing: it works on a copy of the table and publishes
/// the copy only on success (the nf_tables backend commits each command as one transaction).
/// </summary>
public sealed class CommandExecutor
{
    private readonly Ruleset _ruleset;

    public CommandExecutor(Ruleset ruleset) => _ruleset = ruleset;

    /// <summary>Parses and runs one command line; returns what iptables prints on stdout.</summary>
    public string Run(IReadOnlyList<string> args)
    {
        var parser = new CommandParser(_ruleset.Family, chainExists: ChainExists);
        var cmd = parser.Parse(args);
        return Execute(cmd);
    }

    public bool ChainExists(string table, string chain) => _ruleset.Find(table)?.Find(chain) != null;

    private static XtablesException NoChain() => Xt.Other("No chain/target/match by that name.");

    /// <summary>
    /// When set, rule commands do not run the kernel checks; each added rule is reported here
    /// instead (iptables-restore checks the whole table once, at COMMIT).
    /// </summary>
    public Action<Chain, RuleEntry, string>? DeferredCheck { get; init; }

    /// <summary>When set, commands edit the table in place instead of a copy (the caller owns atomicity).</summary>
    public bool InPlace { get; init; }

    public string Execute(ParsedCommand cmd)
    {
        if (cmd.Version) return $"{ProgramNames.Main} {XtablesException.VersionTag}\n";
        if (cmd.Help) return Help.Text(ProgramNames.Main, _ruleset.Family);

        var existing = _ruleset.Find(cmd.Table);
        // Commands work on a copy; listing an absent table shows its empty built-in chains.
        var table = existing != null && InPlace ? existing : existing?.Clone() ?? new Table(BuiltinTables.Find(cmd.Table)!);
        var output = new StringBuilder();
        bool verbose = cmd.Verbose > 0;
        // Which commands make an absent table exist (observed with iptables-nft): -A -I -N -P and -F CHAIN.
        bool creates = true;

        switch (cmd.Command)
        {
            case Cmd.Append:
            case Cmd.Insert:
            case Cmd.Check:
            case Cmd.Delete:
            case Cmd.Replace:
                // iptables-restore stopped at the other family's flag: no addresses, so no rule to act on.
                if (cmd.OtherFamily) break;
                if (existing == null && cmd.Command == Cmd.Replace) throw NoChain();
                RuleCommand(table, cmd, verbose ? output : null, DeferredCheck);
                break;
            case Cmd.DeleteNum:
            {
                // A table that does not exist yet has no chains at all.
                if (existing == null) throw NoChain();
                var c = Chain(table, cmd.Chain!);
                if (cmd.RuleNumber > c.Rules.Count) throw Xt.Other("Index of deletion too big.");
                c.Rules.RemoveAt(cmd.RuleNumber - 1);
                break;
            }
            case Cmd.Flush:
                creates = cmd.Chain != null;
                foreach (var c in cmd.Chain != null ? [Chain(table, cmd.Chain)] : table.Chains)
                {
                    if (verbose) output.Append("Flushing chain `").Append(c.Name).Append("'\n");
                    c.Rules.Clear();
                }
                break;
            case Cmd.Zero:
                if (existing == null && cmd.Chain != null) throw NoChain();
                creates = false;
                Zero(table, cmd.Chain, verbose ? output : null);
                break;
            case Cmd.ZeroNum:
            {
                // iptables-nft looks the rule up first: with no table there is no rule to zero.
                if (existing == null) throw Xt.Other("Bad rule (does a matching rule exist in that chain?).");
                var c = Chain(table, cmd.Chain!);
                if (cmd.RuleNumber <= c.Rules.Count) c.Rules[cmd.RuleNumber - 1].Counters = default;
                break;
            }
            case Cmd.NewChain:
                if (table.Find(cmd.Chain!) != null) throw Xt.Other("Chain already exists.");
                table.AddUserChain(cmd.Chain!);
                break;
            case Cmd.DeleteChain:
                creates = false;
                DeleteChain(table, cmd.Chain, verbose ? output : null);
                break;
            case Cmd.RenameChain:
            {
                var c = Chain(table, cmd.Chain!);
                if (table.Find(cmd.NewName!) != null) throw Xt.Other("File exists.");
                // iptables-nft lets a built-in chain be renamed (and then cannot list it); we refuse, as the legacy backend does.
                if (c.IsBuiltin) throw Xt.Other("Invalid argument. Run `dmesg' for more information.");
                if (cmd.NewName!.Length >= 29) throw Xt.Param($"chain name `{cmd.NewName}' too long (must be under 29 chars)");
                RenameReferences(table, c.Name, cmd.NewName!);
                c.Name = cmd.NewName!;
                table.ChainRenamed();
                break;
            }
            case Cmd.SetPolicy:
            {
                var c = table.Find(cmd.Chain!);
                if (c == null || !c.IsBuiltin) throw Xt.Other("Bad built-in chain name.");
                if (cmd.Policy is not ("ACCEPT" or "DROP")) throw Xt.Other("Bad policy name. Run `dmesg' for more information.");
                c.Policy = cmd.Policy;
                // -c with -P is accepted but ignored by iptables-nft: policy counters come only from restore -c.
                break;
            }
            case Cmd.List:
            case Cmd.List | Cmd.Zero:
            case Cmd.List | Cmd.ZeroNum:
            case Cmd.ListRules:
            case Cmd.ListRules | Cmd.Zero:
            case Cmd.ListRules | Cmd.ZeroNum:
                if (cmd.Chain != null && table.Find(cmd.Chain) == null)
                    throw new XtablesException(XtablesExit.OtherProblem,
                        $"chain `{cmd.Chain}' in table `{cmd.Table}' is incompatible, use 'nft' tool.");
                if ((cmd.Command & Cmd.List) != 0)
                    output.Append(ListPrinter.List(table, cmd.Chain, cmd.RuleNumber, new ListOptions(cmd.Numeric, verbose, cmd.Exact, cmd.LineNumbers)));
                else
                    output.Append(SavePrinter.ListRules(table, cmd.Chain, cmd.RuleNumber, verbose));
                if ((cmd.Command & Cmd.Zero) != 0) Zero(table, cmd.Chain, verbose ? output : null);
                if ((cmd.Command & Cmd.ZeroNum) != 0)
                {
                    var c = Chain(table, cmd.Chain!);
                    if (cmd.RuleNumber <= c.Rules.Count) c.Rules[cmd.RuleNumber - 1].Counters = default;
                }
                creates = false;
                if ((cmd.Command & (Cmd.Zero | Cmd.ZeroNum)) == 0)
                    return output.ToString();
                break;
            default:
                throw Xt.Param("no command specified");
        }

        if ((existing != null || creates) && !ReferenceEquals(existing, table)) _ruleset.Replace(table);
        return output.ToString();
    }

    private static Chain Chain(Table table, string name) => table.Find(name) ?? throw NoChain();

    private static void Zero(Table table, string? chain, StringBuilder? verbose)
    {
        IEnumerable<Chain> chains = chain == null ? table.Chains : [Chain(table, chain)];
        foreach (var c in chains)
        {
            verbose?.Append("Zeroing chain `").Append(c.Name).Append("'\n");
            c.PolicyCounters = default;
            foreach (var r in c.Rules) r.Counters = default;
        }
    }

    private static void DeleteChain(Table table, string? name, StringBuilder? verbose)
    {
        var victims = name == null ? table.UserChains.ToList() : [Chain(table, name)];
        foreach (var c in victims)
        {
            // nft refuses to delete a chain that is still jumped to from a chain that stays.
            bool referenced = table.Chains.Where(o => !victims.Contains(o))
                .Any(o => o.Rules.Any(r => r.Rule.Target is JumpTarget j && j.Chain == c.Name));
            if (c.IsBuiltin || referenced)
                throw Xt.Resource($" CHAIN_DEL failed (Device or resource busy): chain {c.Name}");
        }
        foreach (var c in victims)
        {
            verbose?.Append("Deleting chain `").Append(c.Name).Append("'\n");
            table.RemoveChain(c);
        }
    }

    private static void RenameReferences(Table table, string from, string to)
    {
        foreach (var c in table.Chains)
            foreach (var r in c.Rules)
                if (r.Rule.Target is JumpTarget j && j.Chain == from)
                    r.Rule = new Rule(r.Rule.Header, r.Rule.Matches, new JumpTarget(to, j.IsGoto));
    }

    private static void RuleCommand(Table table, ParsedCommand cmd, StringBuilder? verbose, Action<Chain, RuleEntry, string>? deferred)
    {
        var chain = table.Find(cmd.Chain!) ?? throw NoChain();
        var counters = cmd.Counters ?? default;
        if (verbose != null && cmd.Command != Cmd.Check)
            foreach (var rule in cmd.Rules) verbose.Append(ListPrinter.VerboseRuleLine(rule));
        switch (cmd.Command)
        {
            case Cmd.Append:
                foreach (var rule in cmd.Rules)
                {
                    var entry = new RuleEntry(rule, counters);
                    if (deferred != null) deferred(chain, entry, "RULE_APPEND");
                    else KernelCheck(table, chain, rule, "RULE_APPEND");
                    chain.Rules.Add(entry);
                }
                break;
            case Cmd.Insert:
                foreach (var rule in cmd.Rules)
                {
                    if (cmd.RuleNumber > chain.Rules.Count + 1) throw Xt.Other("Index of insertion too big.");
                    var entry = new RuleEntry(rule, counters);
                    if (deferred != null) deferred(chain, entry, "RULE_INSERT");
                    else KernelCheck(table, chain, rule, "RULE_INSERT");
                    chain.Rules.Insert(cmd.RuleNumber - 1, entry);
                }
                break;
            case Cmd.Replace:
                if (cmd.RuleNumber > chain.Rules.Count) throw Xt.Other("Index of replacement too big.");
                var replacement = new RuleEntry(cmd.Rules[0], counters);
                if (deferred != null) deferred(chain, replacement, "RULE_REPLACE");
                else KernelCheck(table, chain, cmd.Rules[0], "RULE_REPLACE");
                chain.Rules[cmd.RuleNumber - 1] = replacement;
                break;
            case Cmd.Delete:
                foreach (var rule in cmd.Rules)
                {
                    int i = chain.Rules.FindIndex(e => e.Rule.SameAs(rule));
                    if (i < 0) throw Xt.Other("Bad rule (does a matching rule exist in that chain?).");
                    chain.Rules.RemoveAt(i);
                }
                break;
            case Cmd.Check:
                foreach (var rule in cmd.Rules)
                    if (!chain.Rules.Any(e => e.Rule.SameAs(rule)))
                        throw Xt.Other("Bad rule (does a matching rule exist in that chain?).");
                break;
        }
    }

    /// <summary>
    /// The kernel's checks when a rule is committed: its extensions against the table and the
    /// hooks its chain is reachable from, jumps to built-in chains, and loops.
    /// </summary>
    public static void KernelCheck(Table table, Chain chain, Rule rule, string op)
    {
        XtablesException Fail(string errno) => Xt.Resource($" {op} failed ({errno}): rule in chain {chain.Name}");

        var hooks = HooksReaching(table, chain);
        if (CheckRule(table, chain, rule, hooks) is { } e) throw Fail(e);

        // A jump makes the target chain reachable from more hooks: its rules must accept those too.
        if (rule.Target is JumpTarget jt && table.Find(jt.Chain) is { } target)
            foreach (var c in ChainsFrom(table, target))
                foreach (var r in c.Rules)
                    if (CheckExtensions(r.Rule, new KernelCheckContext { Table = table.Name, Hooks = hooks, Header = r.Rule.Header }) is { } e2)
                        throw Fail(e2);
    }

    /// <summary>
    /// The kernel's view of one rule in its chain: header forms nf_tables cannot express, jumps to
    /// built-in chains and loops, then each extension's check. Returns the errno text, or null.
    /// </summary>
    private static string? CheckRule(Table table, Chain chain, Rule rule, HookMask hooks)
    {
        // nf_tables cannot express "not from anywhere": the kernel refuses the rule.
        var h = rule.Header;
        if ((h.InvertSource && h.SourceMask == 0) || (h.InvertDestination && h.DestinationMask == 0))
            return "Invalid argument";
        if (rule.Target is JumpTarget j && table.Find(j.Chain) is { } dest)
        {
            if (dest.IsBuiltin) return "Operation not supported";
            if (dest == chain || Reaches(table, dest, chain.Name)) return "Too many links";
        }
        return CheckExtensions(rule, new KernelCheckContext
        {
            Table = table.Name, Hooks = hooks, Header = h,
            CheckEntryHooks = chain.Hook is { } own ? (HookMask)(1 << (int)own) : HookMask.None,
        });
    }

    private static string? CheckExtensions(Rule rule, KernelCheckContext ctx)
    {
        foreach (var m in rule.Matches)
            if (m.CheckEntry(ctx) is { } e) return e;
        return rule.Target?.CheckEntry(ctx);
    }

    /// <summary>
    /// Checks every rule of a table at once (the commit-time view): one reachability pass, then
    /// each extension's kernel check. Returns the first refused rule's error, or null.
    /// </summary>
    public static (RuleEntry Entry, XtablesException Error)? CheckTable(Table table, Func<RuleEntry, string> opOf)
    {
        var hooks = new Dictionary<Chain, HookMask>();
        foreach (var b in table.Chains)
            if (b.Hook is { } h)
                foreach (var c in ChainsFrom(table, b))
                    hooks[c] = hooks.GetValueOrDefault(c) | (HookMask)(1 << (int)h);
        foreach (var chain in table.Chains)
            foreach (var e in chain.Rules)
                if (CheckRule(table, chain, e.Rule, hooks.GetValueOrDefault(chain)) is { } errno)
                    return (e, Xt.Resource($" {opOf(e)} failed ({errno}): rule in chain {chain.Name}"));
        return null;
    }

    private static bool Reaches(Table table, Chain from, string to) =>
        ChainsFrom(table, from).Any(c => c.Name == to);

    /// <summary>The chain and every chain reachable from it through jumps.</summary>
    private static List<Chain> ChainsFrom(Table table, Chain start)
    {
        var seen = new List<Chain> { start };
        for (int i = 0; i < seen.Count; i++)
            foreach (var r in seen[i].Rules)
                if (r.Rule.Target is JumpTarget j && table.Find(j.Chain) is { } next && !seen.Contains(next))
                    seen.Add(next);
        return seen;
    }

    /// <summary>The hooks whose built-in chains reach <paramref name="chain"/>.</summary>
    public static HookMask HooksReaching(Table table, Chain chain)
    {
        var mask = HookMask.None;
        foreach (var b in table.Chains)
            if (b.Hook is { } h && ChainsFrom(table, b).Contains(chain))
                mask |= (HookMask)(1 << (int)h);
        return mask;
    }
}
