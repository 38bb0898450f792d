using System.Text;
using System.Text.Json;
using SharpTables.Rules.Commands;
using SharpTables.Rules.Extensions.Owner;
using SharpTables.Rules.Model;

namespace SharpTables.Rules.Tests.Extensions;

/// <summary>
/// Match extensions (udp, icmp, multiport, iprange, comment, mac, length, ttl, pkttype, addrtype,
/// tos, dscp, owner, set) against what the real iptables 1.8.9 (nf_tables) did with the same
/// command, recorded with oracle-canon in match-oracle.jsonl: exit status and error text, the -S
/// text, and the extension part of the -L and -L -n lines (the text after the destination column).
/// </summary>
public class MatchOracleTests
{
    static MatchOracleTests()
    {
        // The users and groups of the machine the oracle ran on (Debian 12 defaults).
        UserDb.Current = UserDb.Of(
            [("root", 0), ("daemon", 1), ("bin", 2), ("nobody", 65534)],
            [("root", 0), ("daemon", 1), ("bin", 2), ("nogroup", 65534)]);
    }

    public sealed record Case(string Table, string Chain, string Rule, int Exit, string Stderr,
        string? Save, string? List, string? ListNumeric)
    {
        public override string ToString() => $"{Table}:{Chain} {Rule}";
    }

    public static IEnumerable<object[]> Cases()
    {
        var path = Path.Combine(TestPaths.RepoRoot, "tests", "SharpTables.Rules.Tests", "Extensions", "match-oracle.jsonl");
        foreach (var line in File.ReadLines(path))
        {
            using var doc = JsonDocument.Parse(line);
            var r = doc.RootElement;
            string? Opt(string name) => r.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            yield return [new Case(r.GetProperty("table").GetString()!, r.GetProperty("chain").GetString()!,
                r.GetProperty("rule").GetString()!, r.GetProperty("exit").GetInt32(), r.GetProperty("stderr").GetString()!,
                Opt("save"), Opt("list"), Opt("list_numeric"))];
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Behaves_like_the_real_iptables(Case c)
    {
        var ruleset = new Ruleset();
        var exec = new CommandExecutor(ruleset);
        if (c.Chain == "X") exec.Run(["-t", c.Table, "-N", "X"]);
        var args = new List<string> { "-t", c.Table, "-A", c.Chain };
        args.AddRange(TestPaths.ShellSplit(c.Rule));
        try
        {
            exec.Run(args);
        }
        catch (XtablesException e)
        {
            Assert.Equal(c.Exit, (int)e.Exit);
            // warnings printed before the error (e.g. "--set option deprecated") go straight to stderr
            var lines = c.Stderr.Split('\n');
            int first = Array.FindIndex(lines, l => l.StartsWith("iptables", StringComparison.Ordinal));
            Assert.Equal(TestPaths.OurName(string.Join('\n', lines[first..])), e.Render("sharptables"));
            return;
        }
        Assert.Equal(0, c.Exit);

        var listed = exec.Run(["-t", c.Table, "-S", c.Chain]).Split('\n').Single(l => l.StartsWith("-A ", StringComparison.Ordinal));
        Assert.Equal($"-A {c.Chain} {c.Save}", listed);

        var rule = ruleset.Find(c.Table)!.Find(c.Chain)!.Rules.Single().Rule;
        if (c.List != null) Assert.Equal(c.List, Print(rule, numeric: false));
        if (c.ListNumeric != null) Assert.Equal(c.ListNumeric, Print(rule, numeric: true));
    }

    private static string Print(Rule rule, bool numeric)
    {
        var sb = new StringBuilder();
        foreach (var m in rule.Matches) m.Print(sb, numeric);
        return sb.ToString();
    }
}
