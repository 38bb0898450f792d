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
        string? tableName = null;
        bool skipping = false;
        int lineNo = 0;
        var pendingJumps = new List<(int Line, string Chain)>();

        foreach (var rawLine in SplitLines(text))
        {
            lineNo++;
            var line = rawLine.TrimEnd('\r');
            var trimmed = line.TrimStart();
            if (trimmed.Length == 0 || trimmed[0] == '#') continue;
            try
            {
                if (trimmed[0] == '*')
                {
                    if (table != null)
                        throw LineFailed(lineNo);
                    tableName = trimmed[1..].Trim();
                    if (BuiltinTables.Find(tableName) == null)
                        throw new XtablesException(XtablesExit.VersionProblem, $"table '{tableName}' does not exist");
                    skipping = options.OnlyTable != null && options.OnlyTable != tableName;
                    table = options.NoFlush || skipping
                        ? (result.Find(tableName)?.Clone() ?? new Table(BuiltinTables.Find(tableName)!))
                        : new Table(BuiltinTables.Find(tableName)!);
                    pendingJumps.Clear();
                    continue;
                }
                if (trimmed == "COMMIT" || trimmed.StartsWith("COMMIT ", StringComparison.Ordinal))
                {
                    if (table == null) throw LineFailed(lineNo);
                    if (!skipping) result.Replace(table);
                    table = null;
                    continue;
                }
                if (table == null) throw LineFailed(lineNo);
                if (skipping) continue;
                if (trimmed[0] == ':')
                {
                    ChainLine(table, trimmed, options, lineNo);
                    continue;
                }
                RuleLine(table, trimmed, options, lineNo);
            }
            catch (XtablesException e) when (e.Line == null)
            {
                throw new XtablesException(e.Exit, e.Message, e.Style) { Line = lineNo };
            }
        }
        if (table != null)
            throw new XtablesException(XtablesExit.OtherProblem, "COMMIT expected at line " + (lineNo + 1), ErrorStyle.Short) { Line = lineNo + 1 };
        return result;
    }

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
        new(XtablesExit.OtherProblem, $"line {line} failed", ErrorStyle.Short) { Line = line };

    private static void ChainLine(Table table, string line, RestoreOptions options, int lineNo)
    {
        var f = line[1..].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        if (f.Length < 2) throw LineFailed(lineNo);
        string name = f[0], policy = f[1];
        if (name.Length >= 29)
            throw Xt.Param($"Invalid chain name `{name}'");
        var chain = table.Find(name);
        if (chain != null && chain.IsBuiltin)
        {
            if (policy != "-")
            {
                if (policy is not ("ACCEPT" or "DROP")) throw LineFailed(lineNo);
                chain.Policy = policy;
            }
            if (options.Counters && f.Length >= 3 && TryParseCounters(f[2], out var c)) chain.PolicyCounters = c;
        }
        else
        {
            if (policy != "-") throw LineFailed(lineNo);
            if (chain == null) table.AddUserChain(name);
            else chain.Rules.Clear(); // a declared existing chain is flushed, even with --noflush
        }
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

    private static void RuleLine(Table table, string line, RestoreOptions options, int lineNo)
    {
        Counters? counters = null;
        if (line[0] == '[')
        {
            int close = line.IndexOf(']');
            if (close < 0 || !TryParseCounters(line[..(close + 1)], out var c))
                throw Xt.Param("Bad counter");
            counters = c;
            line = line[(close + 1)..].TrimStart();
        }
        var args = Tokenize(line + "\n");
        var parser = new CommandParser(Family.IPv4, restore: true, chainExists: (_, ch) => table.Find(ch) != null);
        var cmd = parser.Parse(args, table.Name);
        if (options.Counters && counters != null && cmd.Counters == null) cmd.Counters = counters;
        if (!options.Counters && counters != null) cmd.Counters = null;
        var scratch = new Ruleset();
        scratch.Replace(table);
        var exec = new CommandExecutor(scratch);
        exec.Execute(cmd);
        // Execute replaced the table in scratch with an updated copy: adopt its chains.
        var updated = scratch.Find(table.Name)!;
        CopyInto(updated, table);
    }

    private static void CopyInto(Table from, Table to)
    {
        foreach (var c in to.Chains.ToList()) if (from.Find(c.Name) == null) to.RemoveChain(c);
        foreach (var c in from.Chains)
        {
            var t = to.Find(c.Name) ?? to.AddUserChain(c.Name);
            t.Policy = c.Policy;
            t.PolicyCounters = c.PolicyCounters;
            t.Rules.Clear();
            t.Rules.AddRange(c.Rules);
        }
    }

    /// <summary>
    /// Splits a rule line (with its final newline) into words like iptables-restore's
    /// add_param_to_argv: blanks separate words; a double quote opens a quoted part, inside which
    /// a backslash takes the next character literally and the closing quote ends the word (even
    /// an empty one); outside quotes a backslash is an ordinary character. A quote left open runs
    /// to the end of the line, newline included, without an error.
    /// </summary>
    public static List<string> Tokenize(string line)
    {
        var words = new List<string>();
        var cur = new StringBuilder();
        bool inQuote = false, escaped = false;
        foreach (char ch in line)
        {
            if (inQuote)
            {
                if (escaped) { cur.Append(ch); escaped = false; continue; }
                if (ch == '\\') { escaped = true; continue; }
                if (ch != '"') { cur.Append(ch); continue; }
                inQuote = false;
                words.Add(cur.ToString());
                cur.Clear();
                continue;
            }
            if (ch == '"') { inQuote = true; continue; }
            if (ch is ' ' or '\t' or '\n')
            {
                if (cur.Length > 0) { words.Add(cur.ToString()); cur.Clear(); }
                continue;
            }
            cur.Append(ch);
        }
        if (cur.Length > 0) words.Add(cur.ToString());
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
                sb.Append("# Generated by ").Append(ProgramNames.Save).Append(' ').Append(XtablesException.VersionTag.Split(' ')[0])
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
