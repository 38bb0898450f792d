using System.Runtime.InteropServices;
using System.Reflection;
using System.Text.Json;

namespace SharpTables.Cli.Demo;

/// <summary>
/// <c>sharptables demo</c> (root): a server and a client network namespace, the server protected
/// by sharptablesd with the seed tutorials' web-host ruleset, and, step by step, what the
/// firewall changes: a port scan before and after, an SSH brute force cut off by <c>recent</c>,
/// NULL and XMAS probes dropped, the LOG lines, the counters and the recent list. Everything is
/// removed at the end, on Ctrl-C, and (from an interrupted run) at the start.
/// </summary>
internal static class DemoCommand
{
    /// <summary>The ports scanned; 22, 80, 3306 and 8080 have services behind them.</summary>
    private static readonly int[] ScanPorts = [21, 22, 23, 25, 80, 443, 3306, 8080];
    private static readonly (int Port, string Banner)[] Services =
    [
        (22, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"),
        (80, "HTTP/1.0 200 OK\r\n\r\n"),
        (3306, "5.5.5-10.11.6-MariaDB\r\n"),
        (8080, "HTTP/1.0 200 OK (admin panel)\r\n\r\n"),
    ];
    private static readonly TimeSpan Patience = TimeSpan.FromMilliseconds(1500);

    public static int Run(List<string> args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Count > 0)
        {
            stderr.WriteLine("usage: sharptables demo");
            return 2;
        }
        if (Installation.EffectiveUid() != 0)
        {
            stderr.WriteLine("sharptables demo: needs root: it creates two network namespaces joined by a veth pair, runs sharptablesd in one");
            stderr.WriteLine("(NFQUEUE and iptables rules inside that namespace) and sends raw packets from the other. Nothing outside them is touched.");
            stderr.WriteLine("Run it as root: sudo ./sharptables demo");
            return 1;
        }
        if (Missing(stderr) is { } problem) return problem;
        var daemonDll = Installation.DaemonDll();
        if (daemonDll == null)
        {
            stderr.WriteLine($"sharptables demo: sharptablesd.dll not found next to {AppContext.BaseDirectory} (run ./setup first)");
            return 1;
        }

        using var runLock = TakeLock(stderr);
        if (runLock == null) return 1;
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCtrlC = (_, e) => { e.Cancel = true; cancel.Cancel(); };
        Console.CancelKeyPress += onCtrlC;
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; cancel.Cancel(); });
        using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, c => { c.Cancel = true; cancel.Cancel(); });
        var lab = new DemoLab();
        try
        {
            DemoLab.RemoveLeftovers();
            Steps(lab, daemonDll, stdout, cancel.Token);
            lab.Dispose();
            stdout.WriteLine("   done: no namespace, rule or file of the demo is left");
            return 0;
        }
        catch (OperationCanceledException)
        {
            stderr.WriteLine();
            stderr.WriteLine("sharptables demo: interrupted; cleaning up");
            return 130;
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or System.Net.Sockets.SocketException or System.ComponentModel.Win32Exception)
        {
            stderr.WriteLine($"sharptables demo: {e.Message}");
            return 1;
        }
        finally
        {
            lab.Dispose();
            Console.CancelKeyPress -= onCtrlC;
        }
    }

    private static void Steps(DemoLab lab, string daemonDll, TextWriter o, CancellationToken cancel)
    {
        string dir = DemoLab.StateDirectory;
        Step(o, 1, "Two hosts: network namespaces joined by a veth pair");
        lab.Build();
        foreach (var (port, banner) in Services) lab.Serve(port, banner);
        o.WriteLine($"   client {DemoLab.Client}  eth0 198.51.100.2/24  <-- veth -->  eth0 198.51.100.1/24  server {DemoLab.Server}");
        o.WriteLine($"   services on the server: {string.Join(", ", Services.Select(s => $"{s.Port} ({Name(s.Port)})"))}");

        Step(o, 2, "Port scan from the client, no firewall (plain TCP connects)");
        Scan(o, cancel);
        Step(o, 3, "NULL and XMAS probes (raw TCP segments), no firewall");
        Probes(o, cancel);

        Step(o, 4, "sharptablesd starts in the server namespace with the seed web-host ruleset");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "rules.v4"), WebHostRules());
        lab.StartDaemon(Installation.Dotnet(), daemonDll, cancel);
        o.WriteLine($"   {lab.DaemonOutput.Split('\n').First(l => l.StartsWith("sharptablesd: ready", StringComparison.Ordinal)).Trim()}");
        o.WriteLine($"   $ sharptables --state-dir {dir} -S        (answered by the daemon over {dir}/control.sock)");
        Cli(o, dir, "-S");

        Step(o, 5, "The same port scan with the firewall: only 22 and 80 answer");
        Scan(o, cancel);
        Step(o, 6, "NULL and XMAS probes with the firewall: dropped, no answer");
        Probes(o, cancel);

        Step(o, 7, "SSH brute force: the 4th new connection within 60 s is dropped by `recent`");
        o.WriteLine("   (the scan above already counted one SSH connection; start from an empty list)");
        o.WriteLine("   $ sharptables recent SSH /");
        Cli(o, dir, "recent", "SSH", "/");
        for (int i = 1; i <= 6; i++)
        {
            cancel.ThrowIfCancellationRequested();
            var (state, banner) = DemoLab.Connect(22, TimeSpan.FromSeconds(2));
            o.WriteLine($"   attempt {i}: " + (state == DemoLab.PortState.Open ? $"connected, server says {banner}" : $"{Describe(state)}"));
        }

        Step(o, 8, "LOG lines (rate-limited to 4/min, burst 5), as syslog gets them; also in events.jsonl");
        foreach (var line in File.Exists(Path.Combine(dir, "events.jsonl")) ? File.ReadAllLines(Path.Combine(dir, "events.jsonl")) : [])
        {
            using var e = JsonDocument.Parse(line);
            var r = e.RootElement;
            o.WriteLine($"   <{r.GetProperty("level").GetInt32()}> kernel: {r.GetProperty("text").GetString()}  => {r.GetProperty("verdict").GetString()}");
        }

        Step(o, 9, "Counters");
        o.WriteLine("   $ sharptables -L -v -n");
        Cli(o, dir, "-L", "-v", "-n");

        Step(o, 10, "The recent list (as /proc/net/xt_recent/SSH shows it)");
        o.WriteLine("   $ sharptables recent SSH");
        Cli(o, dir, "recent", "SSH");

        Step(o, 11, "Cleaning up: sharptablesd stops, the namespaces and the state directory go");
    }

    private static void Step(TextWriter o, int n, string title)
    {
        o.WriteLine();
        o.WriteLine($"== {n}. {title}");
        o.Flush();
    }

    private static void Scan(TextWriter o, CancellationToken cancel)
    {
        cancel.ThrowIfCancellationRequested();
        var results = ScanPorts.AsParallel().AsOrdered().WithDegreeOfParallelism(ScanPorts.Length)
            .Select(p => (Port: p, Result: DemoLab.Connect(p, Patience))).ToList();
        o.WriteLine("   PORT   STATE     SERVICE");
        foreach (var (port, (state, _)) in results)
            o.WriteLine($"   {port,-6} {state.ToString().ToLowerInvariant(),-9} {Name(port)}");
        o.WriteLine("   (closed: the host answered with a reset; filtered: no answer at all)");
        cancel.ThrowIfCancellationRequested();
    }

    private static void Probes(TextWriter o, CancellationToken cancel)
    {
        foreach (var (name, flags) in new[] { ("NULL (no flags)", (byte)0), ("XMAS (all flags)", (byte)0x3f) })
            foreach (var port in new[] { 23, 80 })
            {
                cancel.ThrowIfCancellationRequested();
                var answer = DemoLab.Probe(flags, port, TimeSpan.FromMilliseconds(700));
                o.WriteLine($"   {name,-17} to port {port,-3}: " + (answer == null ? "no answer" : $"answered with {answer}"));
            }
    }

    private static string Describe(DemoLab.PortState s) => s switch
    {
        DemoLab.PortState.Filtered => "no answer (dropped)",
        DemoLab.PortState.Closed => "refused",
        _ => "open",
    };

    private static string Name(int port) => port switch
    {
        21 => "ftp", 22 => "ssh", 23 => "telnet", 25 => "smtp", 80 => "http", 443 => "https", 3306 => "mysql", 8080 => "http-alt", _ => "",
    };

    /// <summary>Runs a sharptables command the way a user would (it goes to the daemon over the control socket), output indented.</summary>
    private static void Cli(TextWriter o, string dir, params string[] args)
    {
        var output = new StringWriter();
        var errors = new StringWriter();
        SharpTablesCli.Run(["--state-dir", dir, .. args], output, errors, TextReader.Null);
        foreach (var line in (output.ToString() + errors).TrimEnd('\n').Split('\n'))
            o.WriteLine(line.Length > 0 ? "   " + line : "");
    }

    private static string WebHostRules()
    {
        using var s = Assembly.GetExecutingAssembly().GetManifestResourceStream("webhost.rules")
            ?? throw new InvalidOperationException("the web-host ruleset is missing from the build");
        return new StreamReader(s).ReadToEnd();
    }

    /// <summary>ip and iptables are needed; iptables is installed through apt-get when it is missing (we are root).</summary>
    private static int? Missing(TextWriter stderr)
    {
        if (Installation.Which("ip") == null)
        {
            stderr.WriteLine("sharptables demo: needs `ip` (iproute2): apt-get install iproute2");
            return 1;
        }
        if (Installation.Which("iptables") != null) return null;
        if (Installation.Which("apt-get") == null)
        {
            stderr.WriteLine("sharptables demo: needs `iptables` (sharptablesd diverts packets with it)");
            return 1;
        }
        stderr.WriteLine("sharptables demo: iptables is missing (sharptablesd diverts packets with it); installing it: apt-get install -y iptables");
        var (rc, output) = DemoLab.Run("apt-get", "install", "-y", "-qq", "--no-install-recommends", "iptables");
        if (rc != 0)
        {
            DemoLab.Run("apt-get", "update", "-qq");
            (rc, output) = DemoLab.Run("apt-get", "install", "-y", "-qq", "--no-install-recommends", "iptables");
        }
        if (rc == 0 && Installation.Which("iptables") != null) return null;
        stderr.WriteLine($"sharptables demo: installing iptables failed: {output.Trim()}");
        return 1;
    }

    /// <summary>One demo at a time: they share the namespace names.</summary>
    private static FileStream? TakeLock(TextWriter stderr)
    {
        try
        {
            return new FileStream("/run/sharptables-demo.lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            stderr.WriteLine("sharptables demo: another demo is running");
            return null;
        }
    }

}
