using System.Diagnostics;

namespace SharpTables.Rules.Tests.Replay;

/// <summary>
/// Differential test against the running kernel: the seed tutorials' commands and the listing
/// scenarios go through the real
/// iptables 1.8.9 (nf_tables) in a throw-away namespace (../shared/oracle/oracle-canon) and through
/// SharpTables, and every answer must agree. Needs root; .ci/run sets SHARPTABLES_LIVE_ORACLE=1 when
/// it runs as root. Without it the recorded fixtures (OracleReplayTests) stand in.
/// </summary>
public class LiveOracleTests
{
    public static IEnumerable<object[]> CommandFiles() =>
        new[] { "seeds", "listing", "ipv6" }.SelectMany(dir =>
            Directory.EnumerateFiles(Path.Combine(TestPaths.Fixtures, dir), "*.cmds").Order()
                .Select(f => new object[] { $"{dir}/{Path.GetFileName(f)}" }));

    [Theory]
    [MemberData(nameof(CommandFiles))]
    public async Task Commands_agree_with_the_live_kernel(string file)
    {
        if (Environment.GetEnvironmentVariable("SHARPTABLES_LIVE_ORACLE") != "1") return;
        var source = Path.Combine(TestPaths.Fixtures, file);
        // Differences are listed under the recorded fixture's name.
        var key = file.StartsWith("seeds/", StringComparison.Ordinal) ? file + ".oracle.json" : file[..^".cmds".Length] + ".out.json";
        var psi = new ProcessStartInfo(Path.Combine(TestPaths.Shared, "oracle", "oracle-canon"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "--backend", "nft", "--json", source }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdoutTask = p.StandardOutput.ReadToEndAsync();
        var stderrTask = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(300));
        await p.WaitForExitAsync(cts.Token);
        var stdout = await stdoutTask;
        var stderr = await stderrTask;
        Assert.True(p.ExitCode is 0 or 1, $"oracle-canon failed ({p.ExitCode}): {stderr}");
        var problems = OracleReplayTests.Compare(stdout, source, key, OracleReplayTests.s_known.Value, OracleReplayTests.FamilyOf(file));
        Assert.True(problems.Length == 0, problems);
    }
}
