using System.Diagnostics;

namespace SharpTables.DiffTest.Running;

/// <summary>Runs a program and collects its output.</summary>
internal static class ProcessRunner
{
    public sealed record Result(int Exit, string Stdout, string Stderr, TimeSpan Elapsed);

    /// <summary>Runs <paramref name="file"/>; past <paramref name="timeout"/> (if any) it is killed.</summary>
    public static Result Run(string file, IEnumerable<string> args, TimeSpan? timeout)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        var sw = Stopwatch.StartNew();
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start " + file);
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (timeout is { } limit && !p.WaitForExit(limit))
        {
            // Only the process this runner started (and its own children) is ended.
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            return new Result(124, stdout.Result, stderr.Result + $"\n(killed after {limit.TotalSeconds} s)", sw.Elapsed);
        }
        p.WaitForExit();
        return new Result(p.ExitCode, stdout.Result, stderr.Result, sw.Elapsed);
    }
}
