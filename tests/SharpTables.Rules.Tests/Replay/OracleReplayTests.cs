using System.Text;
using System.Text.Json;
using SharpTables.Rules.Commands;
using SharpTables.Rules.Model;

namespace SharpTables.Rules.Tests.Replay;

/// <summary>
/// Replays every oracle-canon fixture (tests/fixtures/{listing,seeds,ipv6}/*.json, produced by the
/// real iptables 1.8.9 nf_tables in a fresh namespace) through SharpTables, command by command, on
/// one ruleset: each command's exit status, stdout and stderr (warnings included), and the final
/// save text must be what the real tool printed (with our program name). The ipv6 fixtures are
/// ip6tables sessions, replayed on an IPv6 ruleset. Commands we knowingly answer differently are
/// listed in replay-differences.txt as "fixture#line reason".
/// </summary>
public class OracleReplayTests
{
    public static IEnumerable<object[]> Fixtures()
    {
        foreach (var dir in new[] { "listing", "seeds", "ipv6" })
            foreach (var f in Directory.EnumerateFiles(Path.Combine(TestPaths.Fixtures, dir), "*.json").Order())
                yield return [$"{dir}/{Path.GetFileName(f)}"];
    }

    public static readonly Lazy<Dictionary<string, string>> s_known = new(() =>
    {
        var d = new Dictionary<string, string>();
        foreach (var raw in File.ReadLines(Path.Combine(TestPaths.RepoRoot, "tests", "SharpTables.Rules.Tests", "Replay", "replay-differences.txt")))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            int sp = line.IndexOf(' ');
            d[sp < 0 ? line : line[..sp]] = sp < 0 ? "" : line[(sp + 1)..];
        }
        return d;
    });

    /// <summary>The source the fixture was made from (.cmds, .rules or .restore).</summary>
    public static string SourceOf(string jsonPath)
    {
        var name = Path.GetFileName(jsonPath);
        var dir = Path.GetDirectoryName(jsonPath)!;
        if (name.EndsWith(".oracle.json", StringComparison.Ordinal)) return Path.Combine(dir, name[..^".oracle.json".Length]);
        var stem = name[..^".out.json".Length];
        foreach (var ext in new[] { ".cmds", ".restore", ".rules" })
            if (File.Exists(Path.Combine(dir, stem + ext))) return Path.Combine(dir, stem + ext);
        throw new FileNotFoundException("no source for " + jsonPath);
    }

    /// <summary>
    /// The restore part of a fixture source: everything before "#@ commands", with restore_list.py's
    /// "#@ repeat N LINE" expanded (used to build the 10,006-rule fixture).
    /// </summary>
    private static string RestoreText(string source)
    {
        var sb = new StringBuilder();
        foreach (var line in File.ReadLines(source))
        {
            if (line.StartsWith("#@ commands", StringComparison.Ordinal)) break;
            if (line.StartsWith("#@ repeat ", StringComparison.Ordinal))
            {
                var rest = line["#@ repeat ".Length..];
                int sp = rest.IndexOf(' ');
                int n = int.Parse(rest[..sp]);
                for (int i = 0; i < n; i++) sb.Append(rest[(sp + 1)..]).Append('\n');
                continue;
            }
            sb.Append(line).Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>The fixture's family: the ipv6 folder holds ip6tables sessions.</summary>
    public static Family FamilyOf(string fixture) =>
        fixture.StartsWith("ipv6/", StringComparison.Ordinal) ? Family.IPv6 : Family.IPv4;

    private static string Theirs(string text, Family family)
    {
        var (ours, tool) = family == Family.IPv6 ? ("sharptables6", "ip6tables") : ("sharptables", "iptables");
        return TestPaths.OurName(TestPaths.OurName(TestPaths.OurName(text, ours + "-restore", tool + "-nft-restore"),
            ours + "-restore", tool + "-restore"), ours, tool);
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Replays_like_the_real_iptables(string fixture)
    {
        var jsonPath = Path.Combine(TestPaths.Fixtures, fixture);
        var problems = Compare(File.ReadAllText(jsonPath), SourceOf(jsonPath), fixture, s_known.Value, FamilyOf(fixture));
        Assert.True(problems.Length == 0, problems);
    }

    /// <summary>
    /// Replays an oracle-canon JSON result (from a fixture or a live run) and lists every command
    /// whose exit status, stdout or stderr differs, and a differing final save.
    /// </summary>
    public static string Compare(string json, string source, string fixture, IReadOnlyDictionary<string, string> known,
        Family family = Family.IPv4)
    {
        using var doc = JsonDocument.Parse(json);
        var nft = doc.RootElement.GetProperty("backends").GetProperty("nft");
        var ruleset = new Ruleset(family);
        var (tool, ours) = family == Family.IPv6 ? ("ip6tables", "sharptables6") : ("iptables", "sharptables");
        var problems = new StringBuilder();
        int index = 0;
        foreach (var c in nft.GetProperty("commands").EnumerateArray())
        {
            index++;
            var command = c.GetProperty("command").GetString()!;
            var lineNo = c.TryGetProperty("line", out var l) && l.ValueKind == JsonValueKind.Number ? l.GetInt32() : 0;
            var key = $"{fixture}#{(lineNo == 0 ? index : lineNo)}";
            var words = TestPaths.ShellSplit(command);
            if (words.Count > 0 && words[0] == "sudo") words.RemoveAt(0);
            if (words.Count == 0) continue;
            int expRc = c.GetProperty("rc").GetInt32();
            string expOut = c.GetProperty("stdout").GetString()!;
            string expErr = c.GetProperty("stderr").GetString()!.TrimEnd('\n');

            int rc = 0;
            string output = "", error = "";
            var warnings = new StringWriter();
            Xt.WarningWriter = warnings;
            try
            {
                if (words[0].Contains("restore"))
                {
                    var text = RestoreText(source);
                    bool counters = words.Contains("-c") || words.Contains("--counters");
                    bool noflush = words.Contains("-n") || words.Contains("--noflush");
                    ruleset = Restore.Apply(ruleset, text, new RestoreOptions { Counters = counters, NoFlush = noflush });
                }
                else if (words[0] == tool)
                {
                    if (words.Contains("-V")) continue; // we print our own version
                    output = new CommandExecutor(ruleset).Run(words.Skip(1).ToList());
                }
                else continue;
                error = warnings.ToString().TrimEnd('\n');
            }
            catch (XtablesException e)
            {
                rc = (int)e.Exit;
                error = warnings + e.Render(words[0].Contains("restore") ? ours + "-restore" : ours);
            }
            finally
            {
                Xt.WarningWriter = null;
            }
            bool same = rc == expRc && output == expOut && error == Theirs(expErr, family);
            if (known.TryGetValue(key, out var reason))
            {
                if (same) problems.Append($"{key}: listed in replay-differences.txt ({reason}) but now agrees\n");
                continue;
            }
            if (!same)
                problems.Append($"{key} $ {command}\n  rc {rc} (expected {expRc})\n  stdout:\n{output}\n  expected stdout:\n{expOut}\n  stderr: {error}\n  expected stderr: {Theirs(expErr, family)}\n");
        }
        if (nft.TryGetProperty("save", out var save) && save.TryGetProperty(tool, out var ipt))
        {
            var expected = string.Join("", ipt.GetProperty("text").GetString()!.Split('\n')
                .Where(x => !x.StartsWith('#')).Select(x => x + "\n")).TrimEnd('\n');
            bool withCounters = expected.Contains("] -A ") || doc.RootElement.ToString().Contains("--counters");
            var saved = Restore.Save(ruleset, counters: expected.Contains("] -A ")).TrimEnd('\n');
            _ = withCounters;
            if (known.TryGetValue($"{fixture}#save", out var why))
            {
                if (saved == expected) problems.Append($"{fixture}#save: listed in replay-differences.txt ({why}) but now agrees\n");
            }
            else if (saved != expected)
            {
                problems.Append($"final save differs:\n{saved}\n--- expected ---\n{expected}\n");
            }
        }
        return problems.ToString();
    }
}
