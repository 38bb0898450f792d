using System.Diagnostics;

namespace SharpTables.Daemon.Tests;

/// <summary>Skips a test when systemd-analyze is not installed.</summary>
public sealed class SystemdAnalyzeFactAttribute : FactAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when systemd-analyze is missing.</summary>
    public SystemdAnalyzeFactAttribute()
    {
        if (SystemdTests.Which("systemd-analyze") == null) Skip = "systemd-analyze is not installed (apt-get install systemd): the unit file is not verified";
    }
}

/// <summary>packaging/sharptablesd.service as systemd itself reads it.</summary>
public sealed class SystemdTests
{
    /// <summary>The repository root (the directory holding SharpTables.slnx).</summary>
    private static string Repo
    {
        get
        {
            var d = new DirectoryInfo(AppContext.BaseDirectory);
            while (d != null && !File.Exists(Path.Combine(d.FullName, "SharpTables.slnx"))) d = d.Parent;
            return d?.FullName ?? throw new DirectoryNotFoundException("no SharpTables.slnx above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>
    /// <c>systemd-analyze verify</c> has nothing to say about the unit: no unknown section or key, no
    /// bad value, its ExecStart executable exists (rewritten to the repository's ./sharptablesd, where
    /// the install steps link /usr/local/bin/sharptablesd to), every unit it names loads. Man pages
    /// are not checked (the Documentation= pages need not be installed where the test runs).
    /// </summary>
    [SystemdAnalyzeFact]
    public void Unit_file_verifies_without_diagnostics()
    {
        var unit = File.ReadAllText(Path.Combine(Repo, "packaging", "sharptablesd.service"));
        Assert.Contains("\nExecStart=/usr/local/bin/sharptablesd ", unit);
        var repoUnit = unit.Replace("\nExecStart=/usr/local/bin/sharptablesd ", $"\nExecStart={Repo}/sharptablesd ");
        Assert.Equal((0, ""), Verify(repoUnit));

        // The same check sees a mistake: an unknown key, and an ExecStart that is not there.
        var (rc, output) = Verify(repoUnit.Replace("\nRestartSec=", "\nRestartSecs=").Replace($"{Repo}/sharptablesd ", $"{Repo}/no-such-daemon "));
        Assert.NotEqual(0, rc);
        Assert.Contains("Unknown key 'RestartSecs' in section [Service], ignoring.", output);
        Assert.Contains($"Command {Repo}/no-such-daemon is not executable: No such file or directory", output);
    }

    /// <summary>Runs systemd-analyze verify on <paramref name="unit"/> saved as sharptablesd.service in a directory of its own.</summary>
    private static (int Rc, string Output) Verify(string unit)
    {
        var dir = Directory.CreateTempSubdirectory("sharptables-unit-").FullName;
        try
        {
            var path = Path.Combine(dir, "sharptablesd.service");
            File.WriteAllText(path, unit);
            return Run("systemd-analyze", "verify", "--man=no", path);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static (int Rc, string Output) Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish within 2 minutes");
        }
        return (p.ExitCode, o.Result + e.Result);
    }

    /// <summary>The full path of <paramref name="name"/> on PATH (or in /usr/sbin, /sbin), or null.</summary>
    internal static string? Which(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Concat(["/usr/sbin", "/sbin"]))
            if (dir.Length > 0 && File.Exists(Path.Combine(dir, name))) return Path.Combine(dir, name);
        return null;
    }
}
