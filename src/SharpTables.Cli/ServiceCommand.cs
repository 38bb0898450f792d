using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using SharpTables.Cli.Control;
using SharpTables.Rules.Model;
using SharpTables.Rules.Storage;

namespace SharpTables.Cli;

/// <summary>
/// <c>sharptables service start|stop|restart|status|save</c>, after the iptables service scripts
/// of the seed tutorials (<c>service iptables …</c>, <c>/etc/init.d/iptables …</c>): start puts
/// the saved rules in force (runs sharptablesd on the state directory), stop takes the firewall
/// away (the daemon removes its diversion), restart does both, status lists every table's rules
/// with line numbers (or says the firewall is not running, exit 3), and save writes the running
/// rules to the file start restores, keeping a dated backup of the previous file each time.
///
/// With systemd running and the default state directory, start/stop/restart go through
/// <c>systemctl</c> and packaging/sharptablesd.service; otherwise the daemon is started detached
/// (setsid, output appended to STATE_DIR/sharptablesd.log) and stopped with SIGTERM.
/// </summary>
internal static class ServiceCommand
{
    /// <summary>The systemd unit.</summary>
    public const string Unit = "sharptablesd.service";
    /// <summary>The state directory the unit uses.</summary>
    public const string UnitStateDirectory = "/var/lib/sharptables";
    /// <summary>The daemon's output when the service starts it without systemd.</summary>
    public const string LogFile = "sharptablesd.log";
    private const string Usage = "usage: sharptables service start|stop|restart|status|save";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60), StopTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Whether the words after "service" ask for save (the one action that runs inside the daemon).</summary>
    public static bool IsSave(List<string> args) => args.Count == 2 && args[1] == "save";

    /// <summary>start, stop, restart and status (run by the CLI itself, never through the daemon).</summary>
    public static int Run(List<string> args, string directory, TextWriter stdout, TextWriter stderr)
    {
        if (args.Count != 1 || args[0] is not ("start" or "stop" or "restart" or "status"))
        {
            stderr.WriteLine(Usage);
            return 2;
        }
        if (args[0] == "status") return Status(directory, stdout);
        if (Installation.EffectiveUid() != 0)
        {
            stderr.WriteLine($"sharptables service {args[0]}: needs root (sharptablesd binds NFQUEUE and installs iptables rules)");
            return 4;
        }
        if (UseSystemd(directory)) return Systemctl(args[0], stdout, stderr);
        if (args[0] == "start") return Start(directory, stdout, stderr);
        int rc = Stop(directory, stdout, stderr);
        return args[0] == "restart" && rc == 0 ? Start(directory, stdout, stderr) : rc;
    }

    /// <summary>
    /// save: for each family with rules (or a rules file), copies the rules file to
    /// <c>rules.v4-YYYY-MM-DD_HHMMSS_BAK</c> and writes the running rules with their counters in its
    /// place (atomically, under the state lock). Through the daemon the running rules are the live ones.
    /// </summary>
    public static int Save(IRulesetHost host, string directory, CliContext context, TextWriter stdout)
    {
        var now = context.Now ?? DateTime.Now;
        foreach (var family in new[] { Family.IPv4, Family.IPv6 })
        {
            var store = new StateStore(directory, family);
            using var session = host.Open(directory, family);
            var rules = session.Load();
            if (!File.Exists(store.RulesPath) && !rules.Tables.Any()) continue;
            var backup = Backup(store.RulesPath, now);
            store.Save(rules);
            stdout.WriteLine($"sharptables: Saving firewall rules to {store.RulesPath}: [  OK  ]" +
                             (backup == null ? "" : $" (previous file kept as {Path.GetFileName(backup)})"));
        }
        return 0;
    }

    private static string? Backup(string path, DateTime now)
    {
        if (!File.Exists(path)) return null;
        var name = $"{path}-{now.ToString("yyyy-MM-dd_HHmmss", CultureInfo.InvariantCulture)}_BAK";
        var backup = name;
        for (int i = 1; File.Exists(backup); i++) backup = $"{name}.{i}";
        File.Copy(path, backup);
        return backup;
    }

    /// <summary>status: "Table: NAME" and its listing (-L -n --line-numbers) for every table, as the iptables service prints it.</summary>
    private static int Status(string directory, TextWriter stdout)
    {
        if (RunningPid(directory) == null)
        {
            stdout.WriteLine("sharptablesd: Firewall is not running.");
            return 3;
        }
        foreach (var (six, label) in new[] { (false, ""), (true, " (ip6tables)") })
        {
            string[] family = six ? ["-6"] : [];
            var (rc, save, _) = Cli(directory, [.. family, "save"]);
            if (rc != 0) continue;
            foreach (var line in save.Split('\n'))
            {
                if (!line.StartsWith('*')) continue;
                var table = line[1..];
                stdout.WriteLine($"Table: {table}{label}");
                stdout.Write(Cli(directory, [.. family, "-t", table, "-L", "-n", "--line-numbers"]).Out);
                stdout.WriteLine();
            }
        }
        return 0;
    }

    private static (int Rc, string Out, string Err) Cli(string directory, string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int rc = SharpTablesCli.Run(["--state-dir", directory, .. args], o, e, TextReader.Null);
        return (rc, o.ToString(), e.ToString());
    }

    private static int Start(string directory, TextWriter stdout, TextWriter stderr)
    {
        if (RunningPid(directory) is { } running)
        {
            stdout.WriteLine($"sharptablesd is already running (pid {running})");
            return 0;
        }
        var dll = Installation.DaemonDll();
        if (dll == null)
        {
            stderr.WriteLine($"sharptables service start: sharptablesd.dll not found next to {AppContext.BaseDirectory} (run ./setup first)");
            return 1;
        }
        Directory.CreateDirectory(directory);
        var log = Path.Combine(directory, LogFile);
        long logStart = File.Exists(log) ? new FileInfo(log).Length : 0;
        stdout.Write($"Starting sharptablesd (rules from {directory}): ");
        // A session of its own, no terminal, output to the log: it outlives this command.
        var (rc, output) = Exec("sh", "-c", "setsid \"$0\" \"$1\" --state-dir \"$2\" </dev/null >>\"$3\" 2>&1 &",
            Installation.Dotnet(), dll, directory, log);
        var deadline = DateTime.UtcNow + StartTimeout;
        while (rc == 0 && DateTime.UtcNow < deadline)
        {
            if (RunningPid(directory) != null)
            {
                stdout.WriteLine("[  OK  ]");
                return 0;
            }
            if (LogSince(log, logStart).Contains("sharptablesd: stopped", StringComparison.Ordinal) || Exited(log, logStart)) break;
            Thread.Sleep(100);
        }
        stdout.WriteLine("[FAILED]");
        stderr.Write(rc != 0 ? output : LogSince(log, logStart));
        return 1;
    }

    /// <summary>The daemon wrote an error and is gone (no process left on this state directory).</summary>
    private static bool Exited(string log, long from) =>
        LogSince(log, from).Length > 0 && DaemonPids(Path.GetDirectoryName(log)!).Count == 0;

    private static string LogSince(string log, long from)
    {
        try
        {
            using var f = new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            f.Position = Math.Min(from, f.Length);
            return new StreamReader(f).ReadToEnd();
        }
        catch (IOException) { return ""; }
    }

    private static int Stop(string directory, TextWriter stdout, TextWriter stderr)
    {
        var pids = RunningPid(directory) is { } pid ? [pid] : DaemonPids(directory);
        stdout.Write("Stopping sharptablesd: ");
        foreach (var p in pids) kill(p, 15);
        var deadline = DateTime.UtcNow + StopTimeout;
        while (pids.Any(Alive) && DateTime.UtcNow < deadline) Thread.Sleep(100);
        if (pids.Any(Alive))
        {
            stdout.WriteLine("[FAILED]");
            stderr.WriteLine($"sharptables service stop: sharptablesd (pid {string.Join(", ", pids.Where(Alive))}) did not stop within {StopTimeout.TotalSeconds:F0} s");
            return 1;
        }
        stdout.WriteLine("[  OK  ]");
        return 0;
    }

    private static bool Alive(int pid) => Directory.Exists($"/proc/{pid}");

    /// <summary>The pid of the daemon answering on the state directory's control socket (SO_PEERCRED), or null.</summary>
    private static int? RunningPid(string directory)
    {
        Socket? s;
        try { s = ControlClient.TryConnect(directory); }
        catch (UnauthorizedAccessException) { return null; }
        if (s == null) return null;
        using (s)
        {
            Span<byte> cred = stackalloc byte[12];
            try
            {
                return s.GetRawSocketOption(1 /* SOL_SOCKET */, 17 /* SO_PEERCRED */, cred) >= 4 ? MemoryMarshal.Read<int>(cred) : null;
            }
            catch (SocketException) { return null; }
        }
    }

    /// <summary>Processes running sharptablesd.dll with --state-dir <paramref name="directory"/> (one that stopped answering still counts).</summary>
    private static List<int> DaemonPids(string directory)
    {
        var full = Path.GetFullPath(directory).TrimEnd('/');
        var pids = new List<int>();
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            string[] argv;
            try { argv = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0'); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
            int i = Array.IndexOf(argv, "--state-dir");
            if (argv.Any(a => a.EndsWith("sharptablesd.dll", StringComparison.Ordinal)) && i >= 0 && i + 1 < argv.Length &&
                Path.GetFullPath(argv[i + 1]).TrimEnd('/') == full)
                pids.Add(pid);
        }
        return pids;
    }

    /// <summary>systemd runs (and knows the unit), and the state directory is the unit's.</summary>
    private static bool UseSystemd(string directory) =>
        Directory.Exists("/run/systemd/system") && Installation.Which("systemctl") != null &&
        Path.GetFullPath(directory).TrimEnd('/') == UnitStateDirectory && Exec("systemctl", "cat", Unit).Rc == 0;

    private static int Systemctl(string action, TextWriter stdout, TextWriter stderr)
    {
        var (rc, output) = Exec("systemctl", action, Unit);
        (rc == 0 ? stdout : stderr).Write(output);
        stdout.WriteLine($"systemctl {action} {Unit}: " + (rc == 0 ? "[  OK  ]" : "[FAILED]"));
        return rc;
    }

    private static (int Rc, string Output) Exec(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new IOException($"cannot run {file}");
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, o.Result + e.Result);
    }

    [DllImport("libc")] private static extern int kill(int pid, int signal);
}
