using System.Text;
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
}

/// <summary>
/// iptables-restore: applies an iptables-save file to a copy of the ruleset and returns the copy.
/// The whole file is one transaction, as with the nf_tables backend: any error leaves the
/// caller's ruleset untouched and names the line.
/// </summary>
public static class Restore
{
    public static Ruleset Apply(Ruleset current, string text, RestoreOptions options)
    {
        var result = current.Clone();
        Table? table = null;
        bool skipping = false, created = false;
        string? missingJump = null;
        int lineNo = 0;
        string prog = ProgramNames.Restore;
        // Rules added in the current block, with their line and operation, for the COMMIT-time check.
        var added = new Dictionary<RuleEntry, (int Line, string Op)>(ReferenceEqualityComparer.Instance);
        var scratch = new Ruleset();

        foreach (var line in SplitLines(text))
        {
            lineNo++;
            // iptables-restore looks at the raw line: only column 1 counts, nothing is trimmed.
            if (line.Length == 0 || line[0] == '#') continue;
            try
            {
                if (table != null && line == "COMMIT")
                {
                    if (!skipping)
                    {
                        if (missingJump != null) throw Xt.Param($"Chain '{missingJump}' does not exist");
                        if (CommandExecutor.CheckTable(table, e => added.TryGetValue(e, out var a) ? a.Op : "RULE_APPEND") is { } bad)
                            throw new XtablesException(bad.Error.Exit, bad.Error.Message, bad.Error.Style)
                            {
                                Line = added.TryGetValue(bad.Entry, out var where) ? where.Line : lineNo,
                                Restore = true,
                            };
                        if (created || options.NoFlush) result.Replace(table);
                        else result.Remove(table.Name);
                    }
                    table = null;
                    continue;
                }
                if (line[0] == '*' && table == null)
                {
                    var name = line[1..].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
                    if (name == null) throw Xt.Param($"{prog}: line {lineNo} table name invalid\n");
                    var def = BuiltinTables.Find(name) ?? throw Xt.Param($"{prog}: line {lineNo} table name '{name}' invalid\n");
                    skipping = options.OnlyTable != null && options.OnlyTable != name;
                    table = options.NoFlush || skipping
                        ? (result.Find(name)?.Clone() ?? new Table(def))
                        : new Table(def);
                    created = false;
                    missingJump = null;
                    added.Clear();
                    scratch = new Ruleset();
                    scratch.Replace(table);
                    continue;
                }
                if (table == null) throw LineFailed(lineNo);
                if (skipping) continue;
                if (line[0] == ':')
                {
                    ChainLine(table, line, options, lineNo, prog);
                    created = true;
                    continue;
                }
                int at = lineNo;
                var executor = new CommandExecutor(scratch)
                {
                    InPlace = true,
                    DeferredCheck = (_, entry, op) => added[entry] = (at, op),
                };
                var cmd = RuleLine(table, executor, line, options, ref missingJump);
                if ((cmd & (Cmd.Append | Cmd.Insert | Cmd.NewChain | Cmd.Replace | Cmd.SetPolicy | Cmd.Flush | Cmd.RenameChain)) != 0)
                    created = true;
            }
            catch (XtablesException e) when (e.Line == null)
            {
                throw new XtablesException(e.Exit, e.Message, e.Style) { Line = lineNo, Restore = true, Bare = e.Bare };
            }
        }
        if (table != null)
            throw new XtablesException(XtablesExit.OtherProblem, "COMMIT expected at line " + (lineNo + 1), ErrorStyle.Short) { Line = lineNo + 1, Restore = true };
        return result;
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

    private static void ChainLine(Table table, string line, RestoreOptions options, int lineNo, string prog)
    {
        var f = line[1..].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        if (f.Length < 1) throw Xt.Param($"{prog}: line {lineNo} chain name invalid\n");
        string name = f[0];
        if (name.Length >= 29) throw Xt.Param($"Invalid chain name `{name}' (28 chars max)");
        if (f.Length < 2) throw Xt.Param($"{prog}: line {lineNo} policy invalid\n");
        string policy = f[1];
        Counters counters = default;
        if (f.Length >= 3 && !TryParseCounters(f[2], out counters))
            throw Xt.Param($"{prog}: line {lineNo} invalid counters '{f[2]}'\n");
        var chain = table.Find(name);
        if (chain != null && chain.IsBuiltin)
        {
            if (policy != "-")
            {
                if (policy is not ("ACCEPT" or "DROP")) throw Xt.Other("Bad policy name.");
                chain.Policy = policy;
            }
            chain.PolicyCounters = options.Counters ? counters : default;
        }
        else if (chain == null)
        {
            if (name.StartsWith('-')) throw Xt.Param("chain name not allowed to start with `-'\n");
            table.AddUserChain(name);
        }
        else chain.Rules.Clear(); // a declared existing user chain is flushed, even with --noflush
    }

    private static bool TryParseCounters(string s, out Counters c)
    {
        c = default;
        if (s.Length < 5 || s[0] != '[' || s[^1] != ']') return false;
        var parts = s[1..^1].Split(':');
        if (parts.Length != 2 || !ulong.TryParse(parts[0], out ulong p) || !ulong.TryParse(parts[1], out ulong b)) return false;
        c = new Counters(p, b);
        return true;
    }

    private static Cmd RuleLine(Table table, CommandExecutor executor, string line, RestoreOptions options, ref string? missingJump)
    {
        Counters? counters = null;
        if (line[0] == '[')
        {
            int close = line.IndexOf(']');
            if (close < 0 || !TryParseCounters(line[..(close + 1)], out var c))
                throw Xt.Param("Bad counter");
            counters = c;
            line = line[(close + 1)..];
        }
        var args = Tokenize(line);
        string? jump = null;
        var parser = new CommandParser(Family.IPv4, restore: true, chainExists: (_, ch) =>
        {
            // iptables-restore reports a jump to an unknown chain at the table's COMMIT line.
            if (table.Find(ch) == null) jump = ch;
            return true;
        });
        var cmd = parser.Parse(args, table.Name);
        if (jump != null)
        {
            missingJump ??= jump;
            return cmd.Command;
        }
        if (counters != null && cmd.Counters == null) cmd.Counters = options.Counters ? counters : null;
        // The executor edits this block's table in place: the block is published only at COMMIT.
        executor.Execute(cmd);
        return cmd.Command;
    }

    /// <summary>
    /// Splits a rule line into words like iptables-restore's add_param_to_argv: white space
    /// separates; a double quote opens a quoted part in which a backslash takes the next
    /// character literally; the closing quote ends the word (so <c>""</c> is an empty word).
    /// Outside quotes a backslash is an ordinary character. iptables-restore sees the line with
    /// its newline, so a quote left open swallows it (and the word ends up containing "\n").
    /// A word that looks like -t/--table is refused; a word over 1023 characters too.
    /// </summary>
    public static List<string> Tokenize(string line)
    {
        var words = new List<string>();
        var cur = new StringBuilder();
        bool quote = false, escaped = false;
        void End()
        {
            var w = cur.ToString();
            if ((w.Length > 1 && w[0] == '-' && w[1] != '-' && w.Contains('t')) ||
                (w.Length >= 3 && w.StartsWith("--t", StringComparison.Ordinal) && "--table".StartsWith(w, StringComparison.Ordinal)))
                throw Xt.Param($"The -t option cannot be used in {ProgramNames.Restore}.\n");
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
