using System.Text.Json;

namespace SharpTables.DiffTest.Running;

/// <summary>
/// Runs SharpTables' simulator on a recorded batch:
/// <c>sharptables simulate --rules R --scenario S --json --topology-from ORACLE</c>. The oracle result
/// tells the simulator the run's MAC addresses, per-line send times (<c>t_ms</c>) and the ports the
/// kernel chose for real connections, so time-dependent matches and LOG lines can come out the same.
/// </summary>
/// <param name="run">Runs the sharptables command line with the given arguments: (exit status, stdout, stderr).</param>
internal sealed class Simulator(Func<string[], (int Exit, string Stdout, string Stderr)> run)
{
    /// <summary>A simulator that runs the <c>sharptables</c> executable or script at <paramref name="path"/>.</summary>
    public static Simulator FromPath(string path) => new(args =>
    {
        var res = ProcessRunner.Run(path, args, TimeSpan.FromMinutes(5));
        return (res.Exit, res.Stdout, res.Stderr);
    });

    /// <summary>The repository's ./sharptables script.</summary>
    public static string DefaultPath(string repoRoot) => Path.Combine(repoRoot, "sharptables");

    /// <summary>
    /// The simulate command line for a batch directory, with <c>--isn-flip</c> when lines are given
    /// and <c>--clock-phase</c> when the phase is not 0.
    /// </summary>
    public static string[] Arguments(string batchDir, IReadOnlyCollection<int>? isnFlip = null, double clockPhaseMs = 0) =>
    [
        "simulate", "--rules", Path.Combine(batchDir, BatchFiles.Rules), "--scenario", Path.Combine(batchDir, BatchFiles.Scenario),
        "--json", "--topology-from", Path.Combine(batchDir, BatchFiles.Oracle),
        .. isnFlip is { Count: > 0 } ? (string[])["--isn-flip", string.Join(',', isnFlip)] : [],
        .. clockPhaseMs != 0 ? (string[])["--clock-phase", clockPhaseMs.ToString(System.Globalization.CultureInfo.InvariantCulture)] : [],
    ];

    /// <summary>Our result for the batch, or the reason there is none.</summary>
    public (JsonDocument? Result, string? Error) Run(string batchDir, IReadOnlyCollection<int>? isnFlip = null, double clockPhaseMs = 0)
    {
        var (exit, stdout, stderr) = run(Arguments(batchDir, isnFlip, clockPhaseMs));
        if (exit != 0)
            return (null, $"sharptables simulate exited {exit}: {string.Join(" / ", stderr.Trim().Split('\n').Take(3))}");
        try
        {
            return (JsonDocument.Parse(stdout), null);
        }
        catch (JsonException e)
        {
            return (null, "sharptables simulate printed no JSON: " + e.Message);
        }
    }
}
