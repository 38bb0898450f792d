using System.Text.Json;
using SharpTables.Rules.Commands;
using SharpTables.Rules.Model;

namespace SharpTables.Rules.Tests.GroundTruth;

/// <summary>
/// Every IPv4 case of iptables' own .t vectors, as the real iptables 1.8.9 (nf_tables) answered
/// it on a real kernel (../shared/iptables-tests/ground-truth-nft.jsonl): same exit status,
/// same error text (with our name), same canonical -S text. Cases we knowingly differ on are
/// listed in known-differences.txt with the reason; such a case must still differ.
/// </summary>
public class GroundTruthTests
{
    /// <summary>The extensions SharpTables claims (issue #2), plus the base rule syntax.</summary>
    public static readonly HashSet<string> Claimed =
    [
        "iptables", "standard",
        "tcp", "udp", "icmp", "state", "conntrack", "recent", "limit", "multiport", "iprange", "comment",
        "mac", "mark", "connmark", "length", "ttl", "pkttype", "addrtype", "hashlimit", "connlimit", "tos",
        "dscp", "owner", "set",
        "ACCEPT", "DROP", "RETURN", "QUEUE", "NFQUEUE", "REJECT", "LOG", "NFLOG", "MARK", "CONNMARK", "DNAT",
        "SNAT", "MASQUERADE", "REDIRECT", "NOTRACK", "CT", "TRACE", "TCPMSS", "DSCP", "TOS", "TTL",
    ];

    public sealed record Case(string File, int Line, string Extension, string Table, string Chain, string Rule,
        int Exit, string Stderr, string[] Canonical)
    {
        public string Key => $"{File}:{Line}:{Chain}";
        public override string ToString() => $"{Key} {Rule}";
    }

    private static readonly Lazy<List<Case>> s_cases = new(Load);

    private static List<Case> Load()
    {
        var path = Path.Combine(TestPaths.Shared, "iptables-tests", "ground-truth-nft.jsonl");
        if (!File.Exists(path))
            throw new FileNotFoundException($"ground truth missing: {path} (set SHARPTABLES_SHARED)");
        var list = new List<Case>();
        foreach (var line in File.ReadLines(path))
        {
            using var doc = JsonDocument.Parse(line);
            var r = doc.RootElement;
            list.Add(new Case(
                r.GetProperty("file").GetString()!, r.GetProperty("line").GetInt32(),
                r.GetProperty("extension").GetString()!, r.GetProperty("table").GetString()!,
                r.GetProperty("chain").GetString()!, r.GetProperty("rule").GetString()!,
                r.GetProperty("exit").GetInt32(), r.GetProperty("stderr").GetString()!,
                [.. r.GetProperty("canonical_lines").EnumerateArray().Select(e => e.GetString()!)]));
        }
        return list;
    }

    public static readonly Lazy<Dictionary<string, string>> KnownDifferences = new(() =>
    {
        var d = new Dictionary<string, string>();
        var path = Path.Combine(TestPaths.RepoRoot, "tests", "SharpTables.Rules.Tests", "GroundTruth", "known-differences.txt");
        foreach (var raw in File.ReadLines(path))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            int sp = line.IndexOf(' ');
            d[sp < 0 ? line : line[..sp]] = sp < 0 ? "" : line[(sp + 1)..];
        }
        return d;
    });

    public static IEnumerable<object[]> ClaimedCases() =>
        s_cases.Value.Where(c => Claimed.Contains(c.Extension)).Select(c => new object[] { c });

    /// <summary>What SharpTables does with the case: exit, stderr, canonical lines.</summary>
    public static (int Exit, string Stderr, string[] Canonical) RunOurs(Case c)
    {
        var ruleset = new Ruleset();
        var exec = new CommandExecutor(ruleset);
        var args = new List<string> { "-t", c.Table, "-A", c.Chain };
        args.AddRange(TestPaths.ShellSplit(c.Rule));
        var warnings = new StringWriter();
        Xt.WarningWriter = warnings;
        try
        {
            exec.Run(args);
        }
        catch (XtablesException e)
        {
            return ((int)e.Exit, warnings + e.Render("sharptables"), []);
        }
        finally
        {
            Xt.WarningWriter = null;
        }
        var listed = exec.Run(["-t", c.Table, "-S", c.Chain]);
        var prefix = $"-A {c.Chain} ";
        var lines = listed.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(l => l.StartsWith("-A ", StringComparison.Ordinal))
            .Select(l => l.StartsWith(prefix, StringComparison.Ordinal) ? l[prefix.Length..] : l[(4 + c.Chain.Length)..].TrimStart())
            .ToArray();
        return (0, warnings.ToString().TrimEnd('\n'), lines);
    }

    [Theory]
    [MemberData(nameof(ClaimedCases))]
    public void Agrees_with_the_real_iptables(Case c)
    {
        var (exit, stderr, canonical) = RunOurs(c);
        string expectedErr = TestPaths.OurName(c.Stderr);
        bool same = exit == c.Exit && stderr == expectedErr && canonical.SequenceEqual(c.Canonical);
        if (KnownDifferences.Value.TryGetValue(c.Key, out var reason))
        {
            Assert.False(same, $"{c.Key} is listed as a known difference ({reason}) but now agrees: remove it from known-differences.txt");
            return;
        }
        Assert.Equal(c.Exit, exit);
        Assert.Equal(expectedErr, stderr);
        Assert.Equal(c.Canonical, canonical);
    }

    /// <summary>save(parse(save(x))) == save(x): the kernel's canonical text parses back to itself.</summary>
    [Theory]
    [MemberData(nameof(ClaimedCases))]
    public void Canonical_text_is_a_fixed_point(Case c)
    {
        if (c.Exit != 0 || KnownDifferences.Value.ContainsKey(c.Key)) return;
        foreach (var line in c.Canonical)
        {
            var ruleset = new Ruleset();
            var exec = new CommandExecutor(ruleset);
            var args = new List<string> { "-t", c.Table, "-A", c.Chain };
            args.AddRange(TestPaths.ShellSplit(line));
            exec.Run(args);
            var listed = exec.Run(["-t", c.Table, "-S", c.Chain]).Split('\n').Last(l => l.StartsWith("-A ", StringComparison.Ordinal));
            Assert.Equal($"-A {c.Chain} {line}".TrimEnd(), listed);
        }
    }
}
