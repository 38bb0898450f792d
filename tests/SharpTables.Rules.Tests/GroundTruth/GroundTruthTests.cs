using System.Text.Json;
using SharpTables.Rules.Commands;
using SharpTables.Rules.Model;

namespace SharpTables.Rules.Tests.GroundTruth;

/// <summary>
/// Every case of iptables' own .t vectors, as the real iptables 1.8.9 (nf_tables) answered it on a
/// real kernel: the IPv4 cases (../shared/iptables-tests/ground-truth-nft.jsonl) through iptables,
/// the IPv6 ones (tests/fixtures/ipv6/ground-truth-ip6-nft.jsonl, made by ground_truth6.py) through
/// ip6tables. Same exit status, same error text (with our name), same canonical -S text. Cases we
/// knowingly differ on are listed in known-differences.txt with the reason (IPv6 keys start with
/// "ip6:"); such a case must still differ.
/// </summary>
public class GroundTruthTests
{
    /// <summary>The extensions SharpTables claims (issue #2), plus the base rule syntax.</summary>
    public static readonly HashSet<string> Claimed =
    [
        "iptables", "standard",
        "tcp", "udp", "icmp", "state", "conntrack", "recent", "limit", "multiport", "iprange", "comment",
        "mac", "mark", "connmark", "length", "ttl", "pkttype", "addrtype", "hashlimit", "connlimit", "tos",
        "dscp", "owner", "set", "helper",
        "ACCEPT", "DROP", "RETURN", "QUEUE", "NFQUEUE", "REJECT", "LOG", "NFLOG", "MARK", "CONNMARK", "DNAT",
        "SNAT", "MASQUERADE", "REDIRECT", "NOTRACK", "CT", "TRACE", "TCPMSS", "DSCP", "TOS", "TTL",
    ];

    /// <summary>The extensions SharpTables claims for ip6tables: the family-neutral ones, and icmp6, frag, hl, HL and ip6tables' REJECT.</summary>
    public static readonly HashSet<string> Claimed6 =
    [
        "standard",
        "tcp", "udp", "icmp6", "frag", "state", "conntrack", "recent", "limit", "multiport", "iprange", "comment",
        "mac", "mark", "connmark", "length", "hl", "pkttype", "addrtype", "hashlimit", "connlimit", "tos",
        "dscp", "owner", "set", "helper",
        "NFQUEUE", "REJECT", "LOG", "NFLOG", "MARK", "CONNMARK", "DNAT", "SNAT", "MASQUERADE", "REDIRECT",
        "NOTRACK", "CT", "TRACE", "TCPMSS", "DSCP", "TOS", "HL",
    ];

    public sealed record Case(string File, int Line, string Extension, string Table, string Chain, string Rule,
        int Exit, string Stderr, string[] Canonical, Family Family = Family.IPv4)
    {
        public string Key => $"{(Family == Family.IPv6 ? "ip6:" : "")}{File}:{Line}:{Chain}";
        public override string ToString() => $"{Key} {Rule}";
        /// <summary>The real tool's name and ours, as they appear in messages.</summary>
        public string Tool => Family == Family.IPv6 ? "ip6tables" : "iptables";
        public string Ours => Family == Family.IPv6 ? "sharptables6" : "sharptables";
    }

    private static readonly Lazy<List<Case>> s_cases = new(() =>
    [
        .. Load(Path.Combine(TestPaths.Shared, "iptables-tests", "ground-truth-nft.jsonl"), "set SHARPTABLES_SHARED"),
        .. Load(Path.Combine(TestPaths.Fixtures, "ipv6", "ground-truth-ip6-nft.jsonl"), "run ground_truth6.py"),
    ]);

    private static List<Case> Load(string path, string hint)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"ground truth missing: {path} ({hint})");
        var list = new List<Case>();
        foreach (var line in File.ReadLines(path))
        {
            using var doc = JsonDocument.Parse(line);
            var r = doc.RootElement;
            var family = r.TryGetProperty("family", out var f) && f.GetString() == "ipv6" ? Family.IPv6 : Family.IPv4;
            list.Add(new Case(
                r.GetProperty("file").GetString()!, r.GetProperty("line").GetInt32(),
                r.GetProperty("extension").GetString()!, r.GetProperty("table").GetString()!,
                r.GetProperty("chain").GetString()!, r.GetProperty("rule").GetString()!,
                r.GetProperty("exit").GetInt32(), r.GetProperty("stderr").GetString()!,
                [.. r.GetProperty("canonical_lines").EnumerateArray().Select(e => e.GetString()!)], family));
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
        s_cases.Value.Where(c => (c.Family == Family.IPv6 ? Claimed6 : Claimed).Contains(c.Extension)).Select(c => new object[] { c });

    /// <summary>What SharpTables does with the case: exit, stderr, canonical lines.</summary>
    public static (int Exit, string Stderr, string[] Canonical) RunOurs(Case c)
    {
        var ruleset = new Ruleset(c.Family);
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
            return ((int)e.Exit, warnings + e.Render(c.Ours), []);
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
        string expectedErr = TestPaths.OurName(c.Stderr, c.Ours, c.Tool);
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
            var ruleset = new Ruleset(c.Family);
            var exec = new CommandExecutor(ruleset);
            var args = new List<string> { "-t", c.Table, "-A", c.Chain };
            args.AddRange(TestPaths.ShellSplit(line));
            exec.Run(args);
            var listed = exec.Run(["-t", c.Table, "-S", c.Chain]).Split('\n').Last(l => l.StartsWith("-A ", StringComparison.Ordinal));
            Assert.Equal($"-A {c.Chain} {line}".TrimEnd(), listed);
        }
    }
}
