using SharpTables.Simulation;

namespace SharpTables.Cli;

/// <summary>
/// <c>sharptables classbench [SET…] [--limit N]</c>: runs ClassBench traces (read from
/// ../shared/bench/classbench) through the engine and checks every header's first match;
/// without SET, all nine sets. Exit 1 when any header disagrees.
/// </summary>
internal static class ClassBenchCommand
{
    public static int Run(List<string> args, TextWriter stdout, TextWriter stderr)
    {
        int limit = int.MaxValue;
        var sets = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            if (args[i] == "--limit" && i + 1 < args.Count) limit = int.Parse(args[++i]);
            else if (args[i].StartsWith('-')) throw new UsageException($"unknown option {args[i]}");
            else sets.Add(args[i]);
        }
        if (sets.Count == 0) sets.AddRange(ClassBench.Sets);
        string root = AppContext.BaseDirectory;
        while (root.Length > 1 && !File.Exists(Path.Combine(root, "SharpTables.slnx"))) root = Path.GetDirectoryName(root)!;
        var dir = ClassBench.DataDirectory(root) ?? throw new UsageException("ClassBench data not found: expected ../shared/bench/classbench/data beside the repository (or set SHARPTABLES_SHARED)");
        bool ok = true;
        foreach (var set in sets)
        {
            using var bar = new ProgressBar(stderr, 0, $"{set} headers");
            var r = ClassBenchRun.Run(dir, set, limit, n => bar.Report(n));
            bar.Dispose();
            double pps = r.Headers / Math.Max(1e-9, r.Elapsed.TotalSeconds);
            stdout.WriteLine($"{set}: {r.Headers} headers, {r.Mismatches.Count} mismatches, {r.Elapsed.TotalSeconds:0.0} s ({pps:N0} headers/s)");
            foreach (var m in r.Mismatches.Take(10)) stdout.WriteLine("  " + m);
            ok &= r.Mismatches.Count == 0;
        }
        return ok ? 0 : 1;
    }
}
