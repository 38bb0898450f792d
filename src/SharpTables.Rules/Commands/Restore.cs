using System.Text;
using SharpTables.Rules.Extensions;
using SharpTables.Rules.Model;
using SharpTables.Rules.Parsing;
using SharpTables.Rules.Printing;

namespace SharpTables.Rules.Commands;

public sealed record RestoreOptions
{
    /// <summary>-c: take counters from the file.</summary>
    public bool Counters { get; init; }
    /// <summary>-n: do not flush the tables the file names.</summary>
    public bool NoFlush { get; init; }
    /// <summary>-T: restore only this table.</summary>
    public string? OnlyTable { get; init; }
    /// <summary>
    /// Reading SharpTables' own state: with <see cref="Counters"/>, every rule keeps its counters,
    /// also in an IPv6 ruleset (ip6tables-nft-restore -c sets only the chains' counters).
    /// </summary>
    public bool KeepRuleCounters { get; init; }
}

/// <summary>
/// iptables-restore / ip6tables-restore (the ruleset's family): applies a save file to a copy of
/// the ruleset and returns the copy.
/// The whole file is one transaction (a product requirement; iptables-nft commits each
/// <c>*table … COMMIT</c> block on its own): any error leaves the caller's ruleset untouched.
/// Errors are reported as iptables-restore 1.8.9 (nf_tables) reports them: parse errors at once,
/// at their line; command failures (unknown chain, bad policy, ...) and jumps to undeclared chains
/// when the block's COMMIT line is reached, the first one in file order winning; kernel refusals
/// after that.
/// </summary>
public static class Restore
{
    public static Ruleset Apply(Ruleset current, string text, RestoreOptions options)
    {
        var result = current.Clone();
        var b = new Block(current.Family);
        // -T: the table of the last header seen is not the one asked for; until the next header,
        // lines are not even looked at (iptables-restore returns before parsing them).
        bool skipping = false;
        int lineNo = 0;
        string prog = ProgramNames.Restore;

        foreach (var line in SplitLines(text))
        {
            lineNo++;
            // iptables-restore looks at the raw line: only column 1 counts, nothing is trimmed.
            if (line.Length == 0 || line[0] == '#') continue;
            try
            {
                if (b.Table != null && line == "COMMIT")
                {
                    Commit(b, result, options, lineNo);
                    b = new Block(current.Family);
                    continue;
                }
                if (line[0] == '*' && b.Table == null)
                {
                    var name = line[1..].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
                    if (name == null) throw Xt.Param($"{prog}: line {lineNo} table name invalid");
                    var def = BuiltinTables.Find(name) ?? throw Xt.Param($"{prog}: line {lineNo} table name '{name}' invalid");
                    skipping = options.OnlyTable != null && options.OnlyTable != name;
                    if (skipping) continue;
                    var existing = result.Find(name);
                    b.Table = options.NoFlush ? (existing?.Clone() ?? new Table(def)) : new Table(def);
                    // After the implicit flush the table has no chains until something needs them.
                    b.Initialized = options.NoFlush && existing != null;
                    b.Scratch.Replace(b.Table);
                    continue;
                }
                if (b.Table == null)
                {
                    if (skipping) continue;
                    throw LineFailed(lineNo);
                }
                if (line[0] == ':')
                {
                    ChainLine(b, line, options, lineNo, prog, current.Family);
                    continue;
                }
                RuleLine(b, line, options, lineNo);
            }
            catch (XtablesException e) when (e.Line == null)
            {
                throw new XtablesException(e.Exit, e.Message, e.Style) { Line = lineNo, Restore = true, Bare = e.Bare };
            }
        }
        if (b.Table != null)
            throw new XtablesException(XtablesExit.OtherProblem, "COMMIT expected at line " + (lineNo + 1), ErrorStyle.Short) { Line = lineNo + 1, Restore = true };
        return result;
    }

    /// <summary>The state of one <c>*table … COMMIT</c> block.</summary>
    private sealed class Block(Family family)
    {
        /// <summary>The batch's view of the table (null outside a block).</summary>
        public Table? Table;
        /// <summary>Holds <see cref="Table"/> for the executor, which edits it in place.</summary>
        public readonly Ruleset Scratch = new(family);
        /// <summary>
        /// The table's chains exist: in flush mode only once a chain line or a command that needs
        /// the built-in chains (-A -I -N -P -R -E, -F CHAIN) came; a block without any is deleted.
        /// </summary>
        public bool Initialized;
        /// <summary>The first command failure (with its line) or undeclared jump (line filled in at COMMIT).</summary>
        public XtablesException? Failed;
        /// <summary>The first kernel refusal met while running the commands (e.g. -X of a chain in use).</summary>
        public XtablesException? Refused;
        /// <summary>Rules added in this block, with their line and operation, for the COMMIT-time check.</summary>
        public readonly Dictionary<RuleEntry, (int Line, string Op)> Added = new(ReferenceEqualityComparer.Instance);
    }

    private static void Commit(Block b, Ruleset result, RestoreOptions options, int lineNo)
    {
        var table = b.Table!;
        if (b.Failed != null) throw b.Failed;
        XtablesException? refused = b.Refused;
        if (CommandExecutor.CheckTable(table, e => b.Added.TryGetValue(e, out var a) ? a.Op : "RULE_APPEND") is { } bad)
        {
            int line = b.Added.TryGetValue(bad.Entry, out var where) ? where.Line : lineNo;
            // The kernel takes the batch in order: the earliest refused operation is reported.
            if (refused == null || line < refused.Line)
                refused = new XtablesException(bad.Error.Exit, bad.Error.Message, bad.Error.Style) { Line = line, Restore = true };
        }
        if (refused != null) throw refused;
        // With --noflush an existing table counts as initialized; a flushed table that nothing
        // gave chains again is deleted (iptables-save then prints nothing for it).
        if (b.Initialized) result.Replace(table);
        else if (!options.NoFlush) result.Remove(table.Name);
    }

    /// <summary>Physical lines without their "\n" (a "\r" stays, as iptables-restore keeps it).</summary>
    private static IEnumerable<string> SplitLines(string text)
    {
        int start = 0;
        while (start < text.Length)
        {
            int nl = text.IndexOf('\n', start);
            if (nl < 0) { yield return text[start..]; yield break; }
            yield return text[start..nl];
            start = nl + 1;
        }
    }

    private static XtablesException LineFailed(int line) =>
        new(XtablesExit.OtherProblem, "", ErrorStyle.Short) { Line = line, Restore = true, Bare = true };

    private static XtablesException NoChain() => Xt.Other("No chain/target/match by that name.");

    /// <summary>
    /// A command failed: iptables-nft finds this only when it runs the block's commands at COMMIT,
    /// so parse errors on later lines of the block still win. Nothing after it is run.
    /// </summary>
    private static void Fail(Block b, XtablesException e, int lineNo) =>
        b.Failed ??= e.Line != null ? e : new XtablesException(e.Exit, e.Message, e.Style) { Line = lineNo, Restore = true, Bare = e.Bare };

    private static bool IsCSpace(char c) => c is ' ' or '\t' or '\n' or '\v' or '\f' or '\r';

    private static void ChainLine(Block b, string line, RestoreOptions options, int lineNo, string prog, Family family)
    {
        var table = b.Table!;
        // strtok(" \t\n"): a "\r" stays part of the word it ends.
        var f = line[1..].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        if (f.Length < 1) throw Xt.Param($"{prog}: line {lineNo} chain name invalid");
        string name = f[0];
        CommandParser.AssertValidChainName(name, family);
        if (f.Length < 2) throw Xt.Param($"{prog}: line {lineNo} policy invalid");
        string policy = f[1];
        var chain = table.Find(name);
        if (chain != null && chain.IsBuiltin)
        {
            // Only with -c are a built-in chain's counters read, and then they must be there.
            Counters counters = default;
            if (options.Counters && (f.Length < 3 || !ScanChainCounters(f[2], out counters)))
                throw Xt.Param($"invalid policy counters for chain '{name}'");
            if (b.Failed != null) return;
            b.Initialized = true;
            if (policy != "-")
            {
                if (policy is not ("ACCEPT" or "DROP")) { Fail(b, Xt.Other("Bad policy name."), lineNo); return; }
                chain.Policy = policy;
            }
            chain.PolicyCounters = counters;
            return;
        }
        // A user chain: policy and counters are ignored, whatever they are.
        if (b.Failed != null) return;
        b.Initialized = true;
        if (chain == null) table.AddUserChain(name);
        // Redeclaring an existing user chain flushes it with --noflush (nft_chain_restore).
        else if (options.NoFlush) chain.Rules.Clear();
    }

    /// <summary>sscanf(s, "[%llu:%llu]") == 2: what iptables-restore -c accepts for chain counters.</summary>
    private static bool ScanChainCounters(string s, out Counters c)
    {
        c = default;
        if (s.Length == 0 || s[0] != '[') return false;
        int i = 1;
        if (!ScanULong(s, ref i, out ulong p) || i >= s.Length || s[i] != ':') return false;
        i++;
        if (!ScanULong(s, ref i, out ulong bytes)) return false;
        c = new Counters(p, bytes);
        return true;
    }

    /// <summary>scanf's %llu: white space, an optional sign, decimal digits (strtoull: saturating, "-" negates).</summary>
    private static bool ScanULong(string s, ref int i, out ulong v)
    {
        v = 0;
        while (i < s.Length && IsCSpace(s[i])) i++;
        bool neg = false;
        if (i < s.Length && s[i] is '+' or '-') { neg = s[i] == '-'; i++; }
        int start = i;
        bool overflow = false;
        while (i < s.Length && char.IsAsciiDigit(s[i]))
        {
            ulong d = (ulong)(s[i] - '0');
            if (v > (ulong.MaxValue - d) / 10) overflow = true; else v = v * 10 + d;
            i++;
        }
        if (i == start) return false;
        if (overflow) v = ulong.MaxValue;
        else if (neg) v = unchecked(0UL - v);
        return true;
    }

    /// <summary>
    /// xshared's tokenize_rule_counters: a line starting with '[' has "[PCNT:BCNT]" in front,
    /// cut out with strtok (so "[5] -A ..." has no ':' before the end and needs a ']'). Returns
    /// the text the command is parsed from, which strtok may have cut short.
    /// </summary>
    private static string RuleCounters(string line, int lineNo, out string? pcnt, out string? bcnt)
    {
        pcnt = bcnt = null;
        if (line.Length == 0 || line[0] != '[') return line;
        var buf = line + "\n";
        int ptr = buf.IndexOf(']');
        if (ptr < 0) throw Xt.Param($"Bad line {lineNo}: need ]");
        int i = 1;
        while (i < buf.Length && buf[i] == ':') i++;
        if (i >= buf.Length) throw Xt.Param($"Bad line {lineNo}: need :");
        int colon = buf.IndexOf(':', i);
        pcnt = buf[i..(colon < 0 ? buf.Length : colon)];
        int j = colon < 0 ? buf.Length : colon + 1;
        while (j < buf.Length && buf[j] == ']') j++;
        if (j >= buf.Length) throw Xt.Param($"Bad line {lineNo}: need ]");
        int close = buf.IndexOf(']', j);
        bcnt = buf[j..(close < 0 ? buf.Length : close)];
        // The command starts after the first ']' and ends at the first NUL strtok wrote after it.
        int from = ptr + 1, to = buf.Length - 1;
        if (colon >= from) to = Math.Min(to, colon);
        if (close >= from) to = Math.Min(to, close);
        return buf[from..Math.Max(from, to)];
    }

    private static void RuleLine(Block b, string line, RestoreOptions options, int lineNo)
    {
        var table = b.Table!;
        var rest = RuleCounters(line, lineNo, out var pcnt, out var bcnt);
        var args = new List<string>();
        // With -c the counters become a --set-counters option in front of the line's own words.
        if (options.Counters && pcnt != null && bcnt != null) args.AddRange(["--set-counters", pcnt, bcnt]);
        args.AddRange(Tokenize(rest));
        string? jump = null;
        var parser = new CommandParser(b.Scratch.Family, restore: true, chainExists: (_, ch) =>
        {
            // iptables-restore reports a jump to an unknown chain at the table's COMMIT line.
            if (table.Find(ch) == null) jump = ch;
            return true;
        });
        ParsedCommand cmd;
        try
        {
            cmd = parser.Parse(args, table.Name);
        }
        catch (XtablesException e) when (e.Message.StartsWith("The -t option", StringComparison.Ordinal))
        {
            // iptables 1.8.9's do_parse wording, with its trailing newline (a blank line before "Error occurred").
            throw Xt.Param($"The -t option cannot be used in {ProgramNames.Restore}.\n");
        }
        if (b.Failed != null) return;
        if (options.KeepRuleCounters) cmd.Counters = cmd.CounterArgument;
        if (jump != null)
        {
            // Line left unset: it is reported at the COMMIT line.
            b.Failed = Xt.Param($"Chain '{jump}' does not exist");
            return;
        }
        // Before the flushed table has its chains, commands that do not create them find none.
        if (!b.Initialized && cmd.Chain != null && table.Find(cmd.Chain) is { IsBuiltin: true } &&
            (cmd.Command is Cmd.Zero or Cmd.ZeroNum or Cmd.DeleteChain or Cmd.RenameChain))
        {
            Fail(b, NoChain(), lineNo);
            return;
        }
        // nft_rule_replace reports a missing rule as ENOENT, which iptables words as below.
        if (cmd.Command == Cmd.Replace && table.Find(cmd.Chain!) is { } rc && cmd.RuleNumber > rc.Rules.Count)
        {
            Fail(b, Xt.Other("Index of replacement too big."), lineNo);
            return;
        }
        var executor = new CommandExecutor(b.Scratch)
        {
            InPlace = true,
            DeferredCheck = (_, entry, op) => b.Added[entry] = (lineNo, op),
        };
        try
        {
            // The executor edits this block's table in place: the block is published only at COMMIT.
            executor.Execute(cmd);
        }
        catch (XtablesException e) when (e.Exit == XtablesExit.ResourceProblem)
        {
            // The kernel refuses it when the batch is committed; the commands after it still run.
            b.Refused ??= new XtablesException(e.Exit, e.Message, e.Style) { Line = lineNo, Restore = true };
            return;
        }
        catch (XtablesException e) when (e.Exit != XtablesExit.ParameterProblem)
        {
            Fail(b, e, lineNo);
            return;
        }
        // -P sends the chain with zero counters (nft_chain_set), so its counters restart.
        if (cmd.Command == Cmd.SetPolicy && table.Find(cmd.Chain!) is { } pc) pc.PolicyCounters = default;
        if (cmd.Command is Cmd.Append or Cmd.Insert or Cmd.NewChain or Cmd.Replace or Cmd.SetPolicy or Cmd.RenameChain ||
            (cmd.Command == Cmd.Flush && (cmd.Chain != null || cmd.Verbose > 0)))
            b.Initialized = true;
    }

    /// <summary>
    /// Splits a rule line into words like iptables-restore's add_param_to_argv: white space
    /// separates; a double quote opens a quoted part in which a backslash takes the next
    /// character literally; the closing quote ends the word (so <c>""</c> is an empty word).
    /// Outside quotes a backslash is an ordinary character. iptables-restore sees the line with
    /// its newline, so a quote left open swallows it (and the word ends up containing "\n").
    /// A word over 1023 characters is refused. (-t is refused by the option parser, as getopt
    /// sees it: "-icmp-type any" is -i with "cmp-type", then a stray "any".)
    /// </summary>
    public static List<string> Tokenize(string line)
    {
        var words = new List<string>();
        var cur = new StringBuilder();
        bool quote = false, escaped = false;
        void End()
        {
            var w = cur.ToString();
            if (w.Length > 1023) throw Xt.Param("Parameter too long!");
            words.Add(w);
            cur.Clear();
        }
        foreach (char ch in line + "\n")
        {
            if (quote)
            {
                if (escaped) { cur.Append(ch); escaped = false; continue; }
                if (ch == '\\') { escaped = true; continue; }
                if (ch != '"') { cur.Append(ch); continue; }
                quote = false;
                End();
                continue;
            }
            if (ch == '"') { quote = true; continue; }
            if (ch is ' ' or '\t' or '\n')
            {
                if (cur.Length > 0) End();
                continue;
            }
            cur.Append(ch);
        }
        if (cur.Length > 0 || quote) End();
        return words;
    }

    /// <summary>iptables-save output for the tables of <paramref name="ruleset"/>.</summary>
    public static string Save(Ruleset ruleset, bool counters, string? onlyTable = null, DateTime? now = null)
    {
        var sb = new StringBuilder();
        foreach (var t in ruleset.Tables)
        {
            if (onlyTable != null && t.Name != onlyTable) continue;
            if (now is { } n)
                sb.Append("# Generated by ").Append(ProgramNames.Save).Append(' ').Append(XtablesException.VersionTag)
                  .Append(" on ").Append(CTime(n)).Append('\n');
            SavePrinter.AppendTable(sb, t, counters);
            if (now is { } n2) sb.Append("# Completed on ").Append(CTime(n2)).Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>ctime(3) format: "Sat Nov 21 09:25:42 2026".</summary>
    public static string CTime(DateTime t) =>
        $"{t:ddd} {t:MMM} {t.Day,2} {t:HH:mm:ss} {t.Year}";
}
