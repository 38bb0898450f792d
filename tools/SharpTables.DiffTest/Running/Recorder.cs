using System.Diagnostics;
using System.Text.Json.Nodes;
using SharpTables.DiffTest.Generation;

namespace SharpTables.DiffTest.Running;

/// <summary>
/// Generates batches and runs each through the kernel, storing rules, scenario, metadata and the
/// oracle's result in one directory per batch. A ruleset the kernel refuses (oracle-run exit 3) is
/// logged, the refusing cases are regenerated from their next seed attempt, and the batch runs again.
/// </summary>
internal sealed class Recorder(Oracle oracle, GeneratorOptions options, TextWriter log)
{
    /// <summary>Attempts per batch before it is given up.</summary>
    private const int MaxRuns = 6;

    /// <summary>Kernel refusals seen so far (rule text and the kernel's message): kernel surprises worth a look.</summary>
    public List<string> Refusals { get; } = [];

    /// <summary>The batches of a run of <paramref name="cases"/> cases: (index, case count).</summary>
    public static List<(int Index, int Cases)> Plan(int cases, int perBatch)
    {
        var plan = new List<(int, int)>();
        for (int i = 0, done = 0; done < cases; i++)
        {
            int n = Math.Min(perBatch, cases - done);
            plan.Add((i, n));
            done += n;
        }
        return plan;
    }

    /// <summary>Generates and records batch <paramref name="index"/>; returns its directory, or null when it could not be recorded.</summary>
    public string? Record(ulong seed, int index, int cases, string outDir)
    {
        var attempts = new Dictionary<int, int>();
        string dir = Path.Combine(outDir, $"b{index:d4}");
        var sw = Stopwatch.StartNew();
        for (int run = 0; run < MaxRuns; run++)
        {
            var batch = BatchGenerator.Generate(seed, index, cases, options, attempts);
            foreach (var (id, a) in attempts) batch.Notes.Add($"case {id}: attempt {a} after kernel refusals");
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            BatchFiles.Write(batch, dir);
            var outcome = oracle.Run(dir, batch.Router ? "router" : "host");
            if (outcome.Exit == 3 && outcome.RefusedLines.Count > 0)
            {
                var lines = batch.RulesText.Split('\n');
                string why = outcome.Result?["load"]?["ipv4"]?["stderr"]?.GetValue<string>() ?? "";
                foreach (int line in outcome.RefusedLines)
                {
                    int owner = line - 1 < batch.RuleLineOwners.Count ? batch.RuleLineOwners[line - 1] : -1;
                    string text = line - 1 < lines.Length ? lines[line - 1] : "?";
                    string msg = why.Split('\n').FirstOrDefault(l => l.StartsWith($"line {line}:", StringComparison.Ordinal)) ?? why.Trim();
                    lock (Refusals) Refusals.Add($"seed {seed} batch {index} case {owner}: {text}  => {msg}");
                    log.WriteLine($"b{index:d4}: kernel refused case {owner}: {text}  => {msg}");
                    if (owner >= 0) attempts[owner] = attempts.GetValueOrDefault(owner, batch.Cases.First(c => c.Id == owner).Attempt) + 1;
                }
                continue;
            }
            if (outcome.Exit is not (0 or 4) || outcome.Result == null)
            {
                log.WriteLine($"b{index:d4}: oracle-run failed (exit {outcome.Exit}): {Last(outcome.Stderr)}");
                return null;
            }
            var result = outcome.Result;
            Oracle.Minimise(result, batch.Tag);
            File.WriteAllText(Path.Combine(dir, BatchFiles.Oracle), Oracle.ToText(result));
            int packets = (result["lines"] as JsonArray)?.Sum(l => (l?["packets"] as JsonArray)?.Count ?? 0) ?? 0;
            log.WriteLine($"b{index:d4}: {cases} cases, {batch.Lines.Count - batch.Listeners.Count} lines, {packets} packets, " +
                $"{(batch.Router ? "router" : "host")}{(batch.Conntrack ? "+ct" : "")} [{string.Join(",", batch.TableNames)}], " +
                $"kernel run {result["run_seconds"]} s, total {sw.Elapsed.TotalSeconds:f1} s");
            return dir;
        }
        log.WriteLine($"b{index:d4}: given up after {MaxRuns} refused rulesets");
        return null;
    }

    private static string Last(string s) => string.Join(" / ", s.Trim().Split('\n').TakeLast(3));
}
