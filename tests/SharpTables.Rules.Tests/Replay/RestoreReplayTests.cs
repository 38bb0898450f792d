using System.Text;
using SharpTables.Rules.Commands;
using SharpTables.Rules.Model;

namespace SharpTables.Rules.Tests.Replay;

/// <summary>
/// The iptables-restore cases of tests/fixtures/restore (each run by the real iptables-restore
/// 1.8.9 nf_tables on a known starting ruleset): same exit status, same stderr (with our name),
/// same resulting ruleset. Where we deliberately differ (whole-file atomicity), the case is listed
/// in restore-differences.txt with the reason, and must still differ.
/// </summary>
public class RestoreReplayTests
{
    public sealed record Case(string Name, string Args, string Start, int Rc, string Stderr, string Before, string After)
    {
        public override string ToString() => Name;
    }

    public static IEnumerable<object[]> Cases()
    {
        var dir = Path.Combine(TestPaths.Fixtures, "restore");
        foreach (var outFile in Directory.EnumerateFiles(dir, "*.out").Order())
        {
            var text = File.ReadAllText(outFile);
            if (!text.StartsWith("## command: iptables-restore", StringComparison.Ordinal) || !text.Contains("## start ruleset:")) continue;
            yield return [Path.GetFileNameWithoutExtension(outFile)];
        }
    }

    private static Dictionary<string, string> Sections(string text)
    {
        var d = new Dictionary<string, string>();
        string? key = null;
        var body = new StringBuilder();
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith("## ", StringComparison.Ordinal))
            {
                if (key != null) d[key] = body.ToString();
                body.Clear();
                var h = line[3..];
                int colon = h.IndexOf(':');
                key = colon < 0 ? h : h[..colon];
                if (key.Contains(" (")) key = key[..key.IndexOf(" (", StringComparison.Ordinal)];
                body.Append(colon < 0 ? "" : h[(colon + 1)..].Trim());
                if (body.Length > 0) { d[key + "#value"] = body.ToString(); body.Clear(); }
                continue;
            }
            body.Append(line).Append('\n');
        }
        if (key != null) d[key] = body.ToString();
        return d;
    }

    private static string StripComments(string save) =>
        string.Join("\n", save.Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#')));

    private static readonly Lazy<Dictionary<string, string>> s_known = new(() =>
        File.ReadLines(Path.Combine(TestPaths.RepoRoot, "tests", "SharpTables.Rules.Tests", "Replay", "restore-differences.txt"))
            .Select(l => l.Trim()).Where(l => l.Length > 0 && l[0] != '#')
            .ToDictionary(l => l.Split(' ')[0], l => l.Contains(' ') ? l[(l.IndexOf(' ') + 1)..] : ""));

    [Theory]
    [MemberData(nameof(Cases))]
    public void Restores_like_the_real_iptables_restore(string name)
    {
        var dir = Path.Combine(TestPaths.Fixtures, "restore");
        var s = Sections(File.ReadAllText(Path.Combine(dir, name + ".out")));
        var command = s["command#value"];
        var args = command["iptables-restore".Length..command.IndexOf('<')].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var input = File.ReadAllText(Path.Combine(dir, command[(command.IndexOf('<') + 1)..].Trim()));
        int expectedRc = int.Parse(s["rc#value"]);
        var expectedErr = s.GetValueOrDefault("stderr", "").TrimEnd('\n');
        var before = s["iptables-save -c before"];
        var after = StripComments(s["iptables-save -c after"]);

        var start = Restore.Apply(new Ruleset(), before, new RestoreOptions { Counters = true });
        var options = new RestoreOptions
        {
            Counters = args.Contains("-c") || args.Contains("--counters"),
            NoFlush = args.Contains("-n") || args.Contains("--noflush"),
            OnlyTable = Array.IndexOf(args, "-T") is var t and >= 0 ? args[t + 1]
                : args.FirstOrDefault(a => a.StartsWith("--table=", StringComparison.Ordinal))?["--table=".Length..],
        };
        bool test = args.Contains("--test") || args.Contains("-t");
        int rc = 0;
        string err = "";
        Ruleset result = start;
        try
        {
            var applied = Restore.Apply(start, input, options);
            if (!test) result = applied;
        }
        catch (XtablesException e)
        {
            rc = (int)e.Exit;
            err = e.Render("sharptables-restore");
        }
        var ours = StripComments(Restore.Save(result, counters: true));
        var theirsErr = TestPaths.OurName(expectedErr, "sharptables-restore", "iptables-restore");
        bool same = rc == expectedRc && err == theirsErr && ours == after;
        if (s_known.Value.TryGetValue(name, out var reason))
        {
            Assert.False(same, $"{name} is listed as a known difference ({reason}) but now agrees");
            return;
        }
        Assert.Equal(expectedRc, rc);
        Assert.Equal(theirsErr, err);
        Assert.Equal(after, ours);
    }
}
