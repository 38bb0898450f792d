using System.Diagnostics;
using System.Text.Json;
using SharpTables.DiffTest.Comparison;
using SharpTables.DiffTest.Generation;
using SharpTables.DiffTest.Running;

namespace SharpTables.DiffTest;

/// <summary>
/// The <c>difftest</c> command line (see tools/SharpTables.DiffTest/README.md):
/// <c>generate</c>, <c>record</c>, <c>compare</c>, <c>live</c> and <c>stability</c>.
/// </summary>
internal static class Cli
{
    /// <summary>Progress and problems of the tool itself.</summary>
    private static readonly TextWriter s_log = TextWriter.Synchronized(Console.Error);
    /// <summary>Comparison reports and summaries.</summary>
    private static readonly TextWriter s_out = TextWriter.Synchronized(Console.Out);

    /// <summary>Options that take a value (so their values are not taken for directories).</summary>
    private static readonly string[] s_valued =
        ["--seed", "--cases", "--out", "--per-batch", "--jobs", "--settle-ms", "--oracle", "--sharptables", "--keep", "--save-mismatches"];

    public static int Run(string[] argv)
    {
        try
        {
            return RunCommand(argv);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            s_log.WriteLine("difftest: " + e.Message);
            return Usage();
        }
    }

    private static int RunCommand(string[] argv)
    {
        if (argv.Length == 0 || argv[0] is "-h" or "--help") return Usage();
        var a = new Args(argv[1..]);
        string root = RepoRoot();
        var gen = new GeneratorOptions { CasesPerBatch = a.Int("--per-batch", new GeneratorOptions().CasesPerBatch) };
        ulong seed = a.ULong("--seed", 1);
        int cases = a.Int("--cases", 200);
        int jobs = a.Int("--jobs", 1);
        var oracle = new Oracle(a.Str("--oracle") ?? Oracle.DefaultPath(root), a.Int("--settle-ms", 30));
        var sim = Simulator.FromPath(a.Str("--sharptables") ?? Simulator.DefaultPath(root));
        switch (argv[0])
        {
            case "generate":
            {
                string outDir = a.Str("--out") ?? "difftest-out";
                foreach (var (i, n) in Recorder.Plan(cases, gen.CasesPerBatch))
                    BatchFiles.Write(BatchGenerator.Generate(seed, i, n, gen), Path.Combine(outDir, $"b{i:d4}"));
                s_log.WriteLine($"generated {cases} cases in {outDir}");
                return 0;
            }
            case "record":
            {
                string outDir = a.Str("--out") ?? throw new ArgumentException("record needs --out DIR");
                var rec = new Recorder(oracle, gen, s_log);
                var sw = Stopwatch.StartNew();
                var dirs = ForEach(Recorder.Plan(cases, gen.CasesPerBatch), jobs, p => rec.Record(seed, p.Index, p.Cases, outDir));
                Throughput(cases, dirs.Count(d => d != null), sw.Elapsed, rec);
                return dirs.All(d => d != null) ? 0 : 1;
            }
            case "compare":
            {
                var dirs = a.Positional(s_valued).SelectMany(BatchFiles.Find).ToList();
                if (dirs.Count == 0) { s_log.WriteLine("compare: no batch directories given"); return 2; }
                var reports = dirs.Select(d => Compare(sim, d)).ToList();
                return Summarise(reports);
            }
            case "live":
            {
                string outDir = a.Str("--keep") ?? Path.Combine(Path.GetTempPath(), $"difftest-{seed}-{Environment.ProcessId}");
                string? saveTo = a.Str("--save-mismatches");
                var rec = new Recorder(oracle, gen, s_log);
                var sw = Stopwatch.StartNew();
                var reports = ForEach(Recorder.Plan(cases, gen.CasesPerBatch), jobs, p =>
                {
                    var dir = rec.Record(seed, p.Index, p.Cases, outDir);
                    if (dir == null) return null;
                    var report = Compare(sim, dir);
                    if (report.Mismatches.Count > 0 && saveTo != null) Copy(dir, Path.Combine(saveTo, $"seed{seed}-{Path.GetFileName(dir)}"));
                    return report;
                });
                Throughput(cases, reports.Count(r => r != null), sw.Elapsed, rec);
                int rc = Summarise(reports.Where(r => r != null).ToList()!);
                if (reports.Any(r => r == null)) rc = 1;
                if (a.Str("--keep") == null && rc == 0) Directory.Delete(outDir, recursive: true);
                else s_log.WriteLine($"batches kept in {outDir}");
                return rc;
            }
            case "stability":
            {
                // Runs recorded batches through the kernel again: any difference is a timing-dependent choice of the generator.
                var dirs = a.Positional(s_valued).SelectMany(BatchFiles.Find).ToList();
                var reports = ForEach(dirs, jobs, d => Rerun(oracle, d));
                return Summarise(reports.Where(r => r != null).ToList()!);
            }
            default:
                return Usage();
        }
    }

    private static BatchReport Compare(Simulator sim, string dir)
    {
        var report = BatchReport.Judge(sim, dir);
        s_out.Write(report.Render());
        return report;
    }

    private static BatchReport? Rerun(Oracle oracle, string dir)
    {
        using var meta = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, BatchFiles.Meta)));
        string tmp = Path.Combine(Path.GetTempPath(), $"difftest-rerun-{Environment.ProcessId}-{Path.GetFileName(dir)}");
        Copy(dir, tmp);
        try
        {
            var outcome = oracle.Run(tmp, meta.RootElement.GetProperty("topology").GetString()!);
            if (outcome.Result == null || outcome.Exit != 0)
            {
                s_log.WriteLine($"{dir}: oracle-run failed (exit {outcome.Exit})");
                return null;
            }
            Oracle.Minimise(outcome.Result, meta.RootElement.GetProperty("tag").GetString()!);
            string text = Oracle.ToText(outcome.Result);
            // The rerun has its own MAC addresses and connection ports: map them to the recorded run's.
            using var stored = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, BatchFiles.Oracle)));
            text = RunMapping.MapTo(text, outcome.Result, stored.RootElement);
            using var again = JsonDocument.Parse(text);
            var report = BatchReport.Create(dir, again.RootElement, oursFromKernel: true);
            s_out.Write(report.Render());
            return report;
        }
        finally
        {
            Directory.Delete(tmp, recursive: true);
        }
    }

    private static List<TOut?> ForEach<TIn, TOut>(IReadOnlyList<TIn> items, int jobs, Func<TIn, TOut?> f)
    {
        var results = new TOut?[items.Count];
        Parallel.For(0, items.Count, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, jobs) }, i => results[i] = f(items[i]));
        return results.ToList();
    }

    private static int Summarise(List<BatchReport> reports)
    {
        int cases = reports.Sum(r => r.CaseCount);
        int failed = reports.Sum(r => r.FailedCases);
        int mismatches = reports.Sum(r => r.Mismatches.Count);
        int isn = reports.Sum(r => r.IsnDependentCases);
        int phased = reports.Count(r => r.ClockPhaseMs != 0);
        s_out.WriteLine($"{reports.Count} batches, {cases} cases: {failed} cases with mismatches ({mismatches} mismatches)"
            + (isn > 0 ? $"; {isn} cases agree with the fw's ISNs in the other half" : "")
            + (phased > 0 ? $"; {phased} batches judged at another jiffy phase" : ""));
        return mismatches == 0 ? 0 : 1;
    }

    private static void Throughput(int cases, int batches, TimeSpan elapsed, Recorder rec)
    {
        s_log.WriteLine($"recorded {batches} batches ({cases} cases requested) in {elapsed.TotalSeconds:f0} s: " +
            $"{cases / elapsed.TotalMinutes:f0} cases/min; {rec.Refusals.Count} kernel refusals");
    }

    private static void Copy(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)), overwrite: true);
    }

    /// <summary>The repository root: the nearest folder with SharpTables.slnx above the tool or the working directory.</summary>
    public static string RepoRoot()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
            for (var d = new DirectoryInfo(start); d != null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "SharpTables.slnx"))) return d.FullName;
        return Directory.GetCurrentDirectory();
    }

    private static int Usage()
    {
        Console.Error.WriteLine("""
            usage: difftest generate  --seed S --cases N --out DIR [--per-batch K]
                   difftest record    --seed S --cases N --out DIR [--per-batch K] [--jobs J] [--settle-ms MS] [--oracle PATH]
                   difftest compare   DIR... [--sharptables PATH]
                   difftest live      --seed S --cases N [--per-batch K] [--jobs J] [--keep DIR] [--save-mismatches DIR] [--sharptables PATH]
                   difftest stability DIR... [--jobs J]
            """);
        return 2;
    }
}

/// <summary>Minimal option reading: <c>--name value</c> or <c>--name=value</c>.</summary>
internal sealed class Args(string[] args)
{
    public string? Str(string name)
    {
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == name && i + 1 < args.Length) return args[i + 1];
            if (args[i].StartsWith(name + "=", StringComparison.Ordinal)) return args[i][(name.Length + 1)..];
        }
        return null;
    }

    public int Int(string name, int def) => Str(name) is { } s ? int.Parse(s) : def;
    public ulong ULong(string name, ulong def) => Str(name) is { } s ? ulong.Parse(s) : def;

    /// <summary>Words that are neither options nor the values of <paramref name="valued"/> options.</summary>
    public List<string> Positional(params string[] valued)
    {
        var list = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            if (valued.Contains(args[i])) { i++; continue; }
            if (args[i].StartsWith("--", StringComparison.Ordinal)) continue;
            list.Add(args[i]);
        }
        return list;
    }
}
