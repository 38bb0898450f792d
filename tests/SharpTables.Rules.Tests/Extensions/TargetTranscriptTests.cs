using System.Text.RegularExpressions;
using SharpTables.Rules.Commands;
using SharpTables.Rules.Model;

namespace SharpTables.Rules.Tests.Extensions;

/// <summary>
/// Replays the oracle transcripts in tests/fixtures/targets (see its README): every command, in
/// order on one ruleset, must end with the exit status and the error text the real iptables 1.8.9
/// (nf_tables) gave. Covers the target extensions' parsing errors and the kernel-side refusals.
/// </summary>
public partial class TargetTranscriptTests
{
    public static TheoryData<string> Files { get; } =
        new(Directory.GetFiles(Path.Combine(TestPaths.Fixtures, "targets"), "*.out").Select(Path.GetFileNameWithoutExtension).Order()!);

    private sealed record Step(string Command, int Exit, string Stderr);

    [GeneratedRegex(@"^\[\d+\] line \d+ rc=(\d+) \$ (.*)$")]
    private static partial Regex StepLine();

    /// <summary>
    /// The "-A" lines of an iptables-save text, per table and chain in rule order. Table and chain
    /// order are the printer's business (tested elsewhere) and are left out.
    /// </summary>
    private static SortedDictionary<string, List<string>> RulesByChain(IEnumerable<string> saveLines)
    {
        var result = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        string table = "";
        foreach (var line in saveLines)
        {
            if (line.StartsWith('*')) { table = line[1..]; continue; }
            if (!line.StartsWith("-A ", StringComparison.Ordinal)) continue;
            string chain = line.Split(' ')[1];
            string key = table + " " + chain;
            if (!result.TryGetValue(key, out var list)) result[key] = list = [];
            list.Add(line);
        }
        return result;
    }

    private static IEnumerable<string> FinalSave(string path) =>
        File.ReadLines(path).SkipWhile(l => !l.StartsWith("--- iptables-save", StringComparison.Ordinal)).Skip(1);

    private static List<Step> ReadTranscript(string path)
    {
        var steps = new List<Step>();
        string? cmd = null;
        int exit = 0;
        var err = new List<string>();
        void Flush() { if (cmd != null) steps.Add(new Step(cmd, exit, string.Join('\n', err))); }
        foreach (var line in File.ReadLines(path))
        {
            if (line.StartsWith("--- iptables-save", StringComparison.Ordinal)) break;
            var m = StepLine().Match(line);
            if (m.Success)
            {
                Flush();
                cmd = m.Groups[2].Value;
                exit = int.Parse(m.Groups[1].Value);
                err.Clear();
            }
            else if (line.StartsWith("    ! ", StringComparison.Ordinal)) err.Add(line[6..]);
            else if (line == "    !") err.Add("");
        }
        Flush();
        return steps;
    }

    /// <summary>Lines iptables writes to stderr before its error (or on success) as plain warnings.</summary>
    private static bool IsWarning(string line) =>
        line.StartsWith("warn: ", StringComparison.Ordinal) ||
        line.StartsWith("--reject-with echo-reply", StringComparison.Ordinal);

    [Theory]
    [MemberData(nameof(Files))]
    public void Replays_like_iptables(string name)
    {
        var ruleset = new Ruleset();
        var exec = new CommandExecutor(ruleset);
        var path = Path.Combine(TestPaths.Fixtures, "targets", name + ".out");
        var steps = ReadTranscript(path);
        Assert.NotEmpty(steps);
        foreach (var step in steps)
        {
            var words = TestPaths.ShellSplit(step.Command);
            Assert.Equal("iptables", words[0]);
            int exit = 0;
            string stderr = "";
            try
            {
                exec.Run(words.Skip(1).ToList());
            }
            catch (XtablesException e)
            {
                exit = (int)e.Exit;
                stderr = e.Render("sharptables");
            }
            Assert.True(step.Exit == exit, $"{step.Command}: exit {exit}, iptables gave {step.Exit} ({step.Stderr})");
            // Warnings go straight to the process's stderr; compare what the error itself says.
            var expected = string.Join('\n', step.Stderr.Split('\n').Where(l => !IsWarning(l)));
            Assert.True(TestPaths.OurName(expected) == stderr, $"{step.Command}:\nexpected: {TestPaths.OurName(expected)}\nactual:   {stderr}");
        }

        // What the kernel ended up holding, as iptables-save printed it.
        var ours = RulesByChain(Restore.Save(ruleset, counters: false).Split('\n'));
        var theirs = RulesByChain(FinalSave(path));
        Assert.Equal(theirs.Keys, ours.Keys);
        foreach (var (chain, rules) in theirs) Assert.Equal(rules, ours[chain]);
    }
}
