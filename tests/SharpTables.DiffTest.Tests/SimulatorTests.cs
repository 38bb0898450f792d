using System.Text.Json.Nodes;
using SharpTables.Cli;
using SharpTables.DiffTest.Comparison;
using SharpTables.DiffTest.Generation;
using SharpTables.DiffTest.Running;

namespace SharpTables.DiffTest.Tests;

/// <summary>Runs <c>sharptables simulate</c> in this process (the freshly built CLI, never a stale copy).</summary>
internal static class InProcess
{
    private static readonly Lock s_lock = new();

    public static (int Exit, string Stdout, string Stderr) Run(string[] args)
    {
        string state = Path.Combine(Path.GetTempPath(), "difftest-state-" + Environment.ProcessId);
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int rc;
        // The CLI keeps a few process-wide settings (the warning writer): one call at a time. Its state
        // directory (which simulate should not need) is a private one, removed again.
        lock (s_lock)
        {
            try
            {
                rc = SharpTablesCli.Run(["--state-dir", state, .. args], stdout, stderr, TextReader.Null);
            }
            finally
            {
                if (Directory.Exists(state)) Directory.Delete(state, recursive: true);
            }
        }
        return (rc, stdout.ToString(), stderr.ToString());
    }

    public static Simulator Simulator { get; } = new(Run);

    /// <summary>Whether the CLI has a <c>simulate</c> command yet (iptables' parser calls an unknown word a bad argument).</summary>
    public static bool HasSimulate { get; } = !Run(["simulate", "--help"]).Stderr.Contains("Bad argument `simulate'", StringComparison.Ordinal);
}

/// <summary>A fact that needs <c>sharptables simulate</c>; skipped (visibly) until the command exists.</summary>
public sealed class NeedsSimulatorFactAttribute : FactAttribute
{
    public NeedsSimulatorFactAttribute()
    {
        if (!InProcess.HasSimulate) Skip = "sharptables has no simulate command yet";
    }
}

/// <summary>
/// The simulator against the kernel: the recorded corpus (tests/fixtures/differential, regressions
/// included) always, and freshly generated cases through the live kernel in CI (root).
/// </summary>
public class SimulatorTests
{
    /// <summary>
    /// The recorded corpus against the simulator, as a ratchet: every disagreement with the kernel
    /// must be listed in tests/fixtures/differential/known-mismatches.txt (the engine's open
    /// defects, each line a kernel result we do not reproduce yet). A new disagreement fails the
    /// test, and so does a listed one that disappeared, so the list only shrinks as fixes land.
    /// SHARPTABLES_DIFFTEST_UPDATE_KNOWN=1 rewrites the list after a fix.
    /// </summary>
    [NeedsSimulatorFact]
    public void The_recorded_corpus_agrees_with_the_simulator_except_the_listed_defects()
    {
        var reports = Corpus.Batches().Select(d => Report(InProcess.Simulator, d)).ToList();
        Assert.NotEmpty(reports);
        var found = reports.SelectMany(r => r.Mismatches.Select(m => $"{Path.GetFileName(r.Dir)}: {m.Kind} {m.Where}: kernel {m.Kernel}, ours {m.Ours}"))
            .Order(StringComparer.Ordinal).ToList();
        string listPath = Path.Combine(Corpus.RepoRoot, "tests", "fixtures", "differential", "known-mismatches.txt");
        if (Environment.GetEnvironmentVariable("SHARPTABLES_DIFFTEST_UPDATE_KNOWN") == "1")
            File.WriteAllLines(listPath, [KnownHeader, .. found]);
        var known = File.ReadAllLines(listPath).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        var added = found.Except(known).ToList();
        var fixedNow = known.Except(found).ToList();
        Assert.True(added.Count == 0 && fixedNow.Count == 0,
            $"{added.Count} new disagreements with the kernel:\n{string.Join("\n", added.Take(40))}\n"
            + $"{fixedNow.Count} listed disagreements are gone (update the list with SHARPTABLES_DIFFTEST_UPDATE_KNOWN=1):\n{string.Join("\n", fixedNow.Take(40))}");
    }

    private const string KnownHeader =
        "# Disagreements between the engine and the kernel on the recorded corpus, one per line: open defects, not expectations.\n" +
        "# Regenerate after a fix with SHARPTABLES_DIFFTEST_UPDATE_KNOWN=1 ./test --filter FullyQualifiedName~SimulatorTests";

    /// <summary>
    /// Generated cases through the real kernel (../shared/oracle/oracle-run; .ci/run sets SHARPTABLES_LIVE_ORACLE=1 as root)
    /// and through the simulator, with seed 31002 (SHARPTABLES_DIFFTEST_SEED and SHARPTABLES_DIFFTEST_CASES override it);
    /// a failure names the seed and keeps the mismatching batches for a regression fixture.
    /// </summary>
    [NeedsSimulatorFact]
    public void Generated_cases_agree_with_the_live_kernel()
    {
        // Runs where the real kernel can answer: as root with the oracle (.ci/run sets
        // SHARPTABLES_LIVE_ORACLE=1 then; SHARPTABLES_DIFFTEST_LIVE=1 forces it). Elsewhere the
        // recorded corpus above is the check; ./difftest live --cases N runs as many as asked.
        if (Environment.GetEnvironmentVariable("SHARPTABLES_LIVE_ORACLE") != "1"
            && Environment.GetEnvironmentVariable("SHARPTABLES_DIFFTEST_LIVE") != "1") return;
        // A fixed seed: the cases are the same each run, the kernel's answers are recorded afresh.
        // (A daily seed would make CI fail on whatever open defect the day's cases hit; the open
        // ones are found with ./difftest live and listed on the issue.)
        ulong seed = ulong.TryParse(Environment.GetEnvironmentVariable("SHARPTABLES_DIFFTEST_SEED"), out var s) ? s : 31002;
        int cases = int.TryParse(Environment.GetEnvironmentVariable("SHARPTABLES_DIFFTEST_CASES"), out var c) ? c : 200;
        string dir = Path.Combine(Path.GetTempPath(), $"difftest-live-{seed}-{Environment.ProcessId}");
        var log = new StringWriter();
        var oracle = new Oracle(Oracle.DefaultPath(Corpus.RepoRoot), settleMs: 10);
        var options = new GeneratorOptions { CasesPerBatch = 20 };
        var recorder = new Recorder(oracle, options, TextWriter.Synchronized(log));
        var reports = new List<BatchReport>();
        var plan = Recorder.Plan(cases, options.CasesPerBatch);
        Parallel.ForEach(plan, new ParallelOptions { MaxDegreeOfParallelism = 2 }, p =>
        {
            var batch = recorder.Record(seed, p.Index, p.Cases, dir);
            Assert.True(batch != null, $"seed {seed} batch {p.Index} could not be recorded:\n{log}");
            var report = Report(InProcess.Simulator, batch!);
            lock (reports) reports.Add(report);
        });
        var bad = reports.Where(r => r.Mismatches.Count > 0).ToList();
        if (bad.Count == 0) Directory.Delete(dir, recursive: true);
        Assert.True(bad.Count == 0, $"seed {seed}: mismatching batches kept in {dir} (copy them to tests/fixtures/differential/regressions)\n" + Summary(bad));
    }

    [Fact]
    public void A_simulator_that_returns_the_kernel_result_agrees_and_one_that_differs_is_reported_per_case()
    {
        string dir = Corpus.Batches()[0];
        string oracle = File.ReadAllText(Path.Combine(dir, BatchFiles.Oracle));
        var same = new Simulator(args =>
        {
            Assert.Equal(Simulator.Arguments(dir), args);
            return (0, oracle, "");
        });
        Assert.Empty(Report(same, dir).Mismatches);

        var node = JsonNode.Parse(oracle)!;
        var line = ((JsonArray)node["lines"]!).First(l => l!["packets"] is JsonArray { Count: > 0 })!;
        var p = line["packets"]![0]!;
        p["verdict"] = (string)p["verdict"]! == "accepted" ? "dropped" : "accepted";
        var differs = new Simulator(_ => (0, node.ToJsonString(), ""));
        var report = Report(differs, dir);
        var (id, list) = Assert.Single(report.ByCase());
        Assert.Equal((string)line["label"]!, "c" + id);
        Assert.Equal("verdict", Assert.Single(list).Kind);
        Assert.Contains($"case {id}", report.Render());
        Assert.Equal(1, report.FailedCases);
    }

    [Fact]
    public void A_failing_simulator_is_a_mismatch_of_the_whole_batch()
    {
        string dir = Corpus.Batches()[0];
        var broken = new Simulator(_ => (2, "", "Bad argument `simulate'"));
        var m = Assert.Single(Report(broken, dir).Mismatches);
        Assert.Equal("simulator", m.Kind);
        Assert.Contains("Bad argument", m.Ours);
        Assert.Single(Report(new Simulator(_ => (0, "not json", "")), dir).Mismatches);
    }

    [Fact]
    public void A_case_that_agrees_only_with_some_fw_isns_in_the_other_half_agrees_and_is_counted()
    {
        string dir = Corpus.Batches()[0];
        string oracle = File.ReadAllText(Path.Combine(dir, BatchFiles.Oracle));
        var node = JsonNode.Parse(oracle)!;
        var lines = ((JsonArray)node["lines"]!).Where(l => l!["packets"] is JsonArray { Count: > 0 }).ToList();
        int Line(JsonNode l) => (int)l["line"]!;
        string label = (string)lines[0]!["label"]!;
        var ofCase = lines.Where(l => (string)l!["label"]! == label).Select(l => Line(l!)).ToList();
        Assert.True(ofCase.Count >= 2, "the first case of the corpus has two packet lines");
        var other = lines.First(l => (string)l!["label"]! != label)!;
        // A result: the kernel's, with the verdicts of the given lines turned round, reporting which lines chose an ISN.
        string Result(int[] isnLines, params JsonNode[] flipped)
        {
            var copy = JsonNode.Parse(oracle)!;
            foreach (var f in flipped)
            {
                var p = ((JsonArray)copy["lines"]!).First(l => Line(l!) == Line(f))!["packets"]![0]!;
                p["verdict"] = (string)p["verdict"]! == "accepted" ? "dropped" : "accepted";
            }
            copy["isn_lines"] = new JsonArray(isnLines.Select(l => (JsonNode)l).ToArray());
            return copy.ToJsonString();
        }
        static string? Flips(string[] args) => Option(args, "--isn-flip");
        int[] isn = [ofCase[0], ofCase[1], Line(other)];

        // Two connections of one case: the kernel's draws put the first in the usual half and the
        // second in the other. Only flipping the second line alone reproduces it.
        var calls = new List<string?>();
        var perConnection = new Simulator(args =>
        {
            calls.Add(Flips(args));
            return (0, Flips(args) == $"{ofCase[1]}" ? Result(isn) : Result(isn, lines[0]!), "");
        });
        var report = Report(perConnection, dir);
        Assert.Empty(report.Mismatches);
        Assert.Equal(1, report.IsnDependentCases);
        // The first run, one run per combination until the case agrees, and the run with the choice.
        Assert.Equal([null, $"{ofCase[0]}", $"{ofCase[1]}", $"{ofCase[1]}"], calls);
        Assert.Equal(["--isn-flip", $"{ofCase[0]},{ofCase[1]}"], Simulator.Arguments(dir, [ofCase[0], ofCase[1]])[^2..]);

        // No combination of halves helps: the first run's disagreement stands, after 2^2 - 1 more
        // runs and one at each jiffy phase (which try no flips).
        calls.Clear();
        var always = new Simulator(args => { calls.Add(Flips(args)); return (0, Result(isn, lines[0]!), ""); });
        Assert.Equal("verdict", Assert.Single(Report(always, dir).Mismatches).Kind);
        Assert.Equal(4 + BatchReport.ClockPhasesMs.Length, calls.Count);
        Assert.All(calls.Skip(4), Assert.Null);

        // A case whose lines chose no ISN is not simulated again with flips.
        calls.Clear();
        var noIsn = new Simulator(args => { calls.Add(Flips(args)); return (0, Result([Line(other)], lines[0]!), ""); });
        Assert.Single(Report(noIsn, dir).Mismatches);
        Assert.Equal([null, .. BatchReport.ClockPhasesMs.Select(_ => (string?)null)], calls);

        // A choice that mends one case but breaks another in the same run is no agreement: the
        // report is that of the run with the choice.
        var mends = new Simulator(args => (0, Flips(args) is null ? Result(isn, lines[0]!) : Result(isn, other), ""));
        var both = Report(mends, dir);
        var (id, list) = Assert.Single(both.ByCase());
        Assert.Equal((string)other["label"]!, "c" + id);
        Assert.Equal(1, both.IsnDependentCases);
    }

    [Fact]
    public void A_batch_that_agrees_only_at_another_jiffy_phase_is_judged_there_as_a_whole()
    {
        // The kernel's jiffy boundaries are unknown: a redirect back-off counted in jiffies can come
        // out differently for the same packet times. The judge tries other phases, but one phase must
        // serve the whole batch, as the kernel had one.
        string dir = Corpus.Batches()[0];
        string oracle = File.ReadAllText(Path.Combine(dir, BatchFiles.Oracle));
        var lines = ((JsonArray)JsonNode.Parse(oracle)!["lines"]!).Where(l => l!["packets"] is JsonArray { Count: > 0 }).ToList();
        var a = lines[0]!;
        var b = lines.First(l => (string)l!["label"]! != (string)a["label"]!)!;
        string Result(params JsonNode[] flipped)
        {
            var copy = JsonNode.Parse(oracle)!;
            foreach (var f in flipped)
            {
                var p = ((JsonArray)copy["lines"]!).First(l => (int)l!["line"]! == (int)f["line"]!)!["packets"]![0]!;
                p["verdict"] = (string)p["verdict"]! == "accepted" ? "dropped" : "accepted";
            }
            return copy.ToJsonString();
        }
        var phases = new List<string?>();

        // Case a agrees from 2.5 ms on: the batch is judged at 2.5 ms, and no phase after it is tried.
        var late = new Simulator(args =>
        {
            string? ph = Option(args, "--clock-phase");
            phases.Add(ph);
            return (0, ph is "2.5" or "3" or "3.5" ? Result() : Result(a), "");
        });
        var report = Report(late, dir);
        Assert.Empty(report.Mismatches);
        Assert.Equal(2.5, report.ClockPhaseMs);
        Assert.Contains("jiffy phase of 2.5 ms", report.Render());
        Assert.Equal([null, "0.5", "1", "1.5", "2", "2.5"], phases);

        // A phase that mends case a but breaks case b is no better: phase 0's disagreement stands.
        var trade = new Simulator(args => (0, Option(args, "--clock-phase") is null ? Result(a) : Result(b), ""));
        var traded = Report(trade, dir);
        Assert.Equal(0, traded.ClockPhaseMs);
        Assert.Equal((string)a["label"]!, "c" + Assert.Single(traded.ByCase()).Key);
        Assert.Equal(["--clock-phase", "1.5"], Simulator.Arguments(dir, null, 1.5)[^2..]);
    }

    private static string? Option(string[] args, string name) => Array.IndexOf(args, name) is int i and >= 0 ? args[i + 1] : null;

    private static BatchReport Report(Simulator sim, string dir) => BatchReport.Judge(sim, dir);

    private static string Summary(List<BatchReport> bad)
    {
        var text = string.Concat(bad.Select(r => r.Render(maxPerCase: 6)));
        return text.Length > 20000 ? text[..20000] + "\n..." : text;
    }
}
