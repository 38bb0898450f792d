using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

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

/// <summary>Skips a test unless tests/service/systemd-check can boot a container here (root, systemd, unshare, overlay, cgroup2).</summary>
public sealed class SystemdContainerFactAttribute : FactAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> to the reason systemd-check gives when it cannot run.</summary>
    public SystemdContainerFactAttribute()
    {
        if (!OperatingSystem.IsLinux())
        {
            Skip = "systemd-check needs Linux";
            return;
        }
        try
        {
            var (rc, output) = SystemdTests.Run(SystemdTests.CheckScript, "--probe", "--bin", AppContext.BaseDirectory);
            if (rc != 0) Skip = output.Trim();
        }
        catch (DirectoryNotFoundException e)
        {
            Skip = "systemd-check not found: " + e.Message;
        }
    }
}

/// <summary>packaging/sharptablesd.service as systemd itself reads it, and runs it.</summary>
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

    /// <summary>
    /// The unit under a real systemd booted in a throwaway container (tests/service/systemd-check:
    /// its own namespaces, an overlay root on tmpfs, bounded, cleaned up): `sharptables service
    /// start|status|save|restart|stop` go through systemctl and do what the iptables service does,
    /// start returns once the rules are in force, kill -9 keeps the diversion and systemd restarts the
    /// daemon, stop removes the diversion and writes the counters, a bad rules file fails the start.
    /// </summary>
    [SystemdContainerFact]
    public void Unit_runs_under_systemd()
    {
        var (rc, output) = Run(CheckScript, "--bin", AppContext.BaseDirectory);
        Assert.True(rc == 0 && output.Contains("systemd-check: all checks passed\n"), output);
    }

    /// <summary>READY=1 reaches the socket named by $NOTIFY_SOCKET, a path or (with '@') an abstract name; no socket, no send.</summary>
    [Fact]
    public void Notify_sends_the_state_to_the_socket()
    {
        var dir = Directory.CreateTempSubdirectory("sharptables-notify-").FullName;
        try
        {
            var path = Path.Combine(dir, "notify");
            var abstractName = $"sharptables-notify-{Environment.ProcessId}-{Guid.NewGuid():N}";
            foreach (var (name, endPoint) in new[] { (path, path), ("@" + abstractName, "\0" + abstractName) })
            {
                using var systemd = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
                systemd.Bind(new UnixDomainSocketEndPoint(endPoint));
                Assert.True(SystemdNotify.Send(name, "READY=1"));
                Assert.True(systemd.Poll(5_000_000, SelectMode.SelectRead));
                var buffer = new byte[64];
                Assert.Equal("READY=1", Encoding.UTF8.GetString(buffer, 0, systemd.Receive(buffer)));
            }
            Assert.False(SystemdNotify.Send(null, "READY=1"));
            Assert.False(SystemdNotify.Send("", "READY=1"));
            Assert.False(SystemdNotify.Send(Path.Combine(dir, "nobody-listens"), "READY=1"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>tests/service/systemd-check.</summary>
    internal static string CheckScript => Path.Combine(Repo, "tests", "service", "systemd-check");

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

    /// <summary>Runs <paramref name="file"/> (3 minutes at most); its exit code and output (stdout then stderr).</summary>
    internal static (int Rc, string Output) Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish within 3 minutes");
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
