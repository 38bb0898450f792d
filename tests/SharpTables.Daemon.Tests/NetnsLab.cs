using SharpTables.Netlink;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace SharpTables.Daemon.Tests;

/// <summary>
/// Runs a test only as root with <c>ip</c> and <c>iptables</c> available (CI: .ci/run installs
/// iproute2 and iptables); otherwise the test is reported as skipped with the reason.
/// </summary>
public sealed class NetnsFactAttribute : FactAttribute
{
    public NetnsFactAttribute()
    {
        if (NetnsLab.Unavailable() is { } reason) Skip = reason;
    }
}

/// <summary>
/// Throw-away network namespaces joined by veth pairs, as the oracle builds them:
/// client eth0 198.51.100.2/24 — eth0 198.51.100.1/24 fw, and with a backend,
/// fw eth1 203.0.113.1/24 — eth0 203.0.113.2/24 backend (forwarding on in fw).
/// Names are unique per instance; everything is deleted on <see cref="Dispose"/> (processes
/// inside are killed by pid first). The root namespace's links and firewall are never touched.
/// </summary>
public sealed partial class NetnsLab : IDisposable
{
    private static int s_counter, s_staleChecked;
    private readonly List<string> _namespaces = [];
    private readonly List<DaemonProcess> _daemons = [];

    public NetnsLab(bool backend = false, int extraClientAddresses = 0, bool ipv6 = false)
    {
        if (Interlocked.Exchange(ref s_staleChecked, 1) == 0) RemoveStale();
        string id = $"std{Environment.ProcessId}x{Interlocked.Increment(ref s_counter)}";
        Fw = id + "-fw";
        Client = id + "-cl";
        Backend = backend ? id + "-be" : null;
        try
        {
            foreach (var ns in new[] { Fw, Client, Backend })
            {
                if (ns == null) continue;
                Ip("netns", "add", ns);
                _namespaces.Add(ns);
                Ip("-n", ns, "link", "set", "lo", "up");
                // No IPv6 chatter (router solicitations, DAD) through the queues unless IPv6 is wanted.
                if (!ipv6)
                {
                    Exec(ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1");
                    Exec(ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1");
                }
            }
            Ip("-n", Fw, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", Client);
            Ip("-n", Fw, "addr", "add", "198.51.100.1/24", "dev", "eth0");
            Ip("-n", Client, "addr", "add", "198.51.100.2/24", "dev", "eth0");
            for (int i = 0; i < extraClientAddresses; i++)
                Ip("-n", Client, "addr", "add", $"198.51.100.{3 + i}/24", "dev", "eth0");
            if (ipv6)
            {
                Ip("-n", Fw, "addr", "add", "2001:db8:100::1/64", "dev", "eth0", "nodad");
                Ip("-n", Client, "addr", "add", "2001:db8:100::2/64", "dev", "eth0", "nodad");
            }
            Ip("-n", Fw, "link", "set", "eth0", "up");
            Ip("-n", Client, "link", "set", "eth0", "up");
            Ip("-n", Client, "route", "add", "default", "via", "198.51.100.1");
            if (Backend != null)
            {
                Ip("-n", Fw, "link", "add", "eth1", "type", "veth", "peer", "name", "eth0", "netns", Backend);
                Ip("-n", Fw, "addr", "add", "203.0.113.1/24", "dev", "eth1");
                Ip("-n", Backend, "addr", "add", "203.0.113.2/24", "dev", "eth0");
                Ip("-n", Fw, "link", "set", "eth1", "up");
                Ip("-n", Backend, "link", "set", "eth0", "up");
                Ip("-n", Backend, "route", "add", "default", "via", "203.0.113.1");
                Exec(Fw, "sysctl", "-qw", "net.ipv4.ip_forward=1");
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Fw { get; }
    public string Client { get; }
    public string? Backend { get; }
    public static IPAddress FwAddress { get; } = IPAddress.Parse("198.51.100.1");
    public static IPAddress ClientAddress { get; } = IPAddress.Parse("198.51.100.2");
    public static IPAddress BackendAddress { get; } = IPAddress.Parse("203.0.113.2");
    public static IPAddress FwAddress6 { get; } = IPAddress.Parse("2001:db8:100::1");

    /// <summary>Why the namespace tests cannot run here, or null when they can.</summary>
    public static string? Unavailable()
    {
        if (!OperatingSystem.IsLinux()) return "network namespace tests need Linux";
        if (geteuid() != 0) return "network namespace tests need root (ip netns, iptables, NFQUEUE)";
        if (FindInPath("ip") == null) return "network namespace tests need `ip` (iproute2)";
        if (FindInPath("iptables") == null) return "network namespace tests need `iptables`";
        return null;
    }

    private static string? FindInPath(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Concat(["/usr/sbin", "/sbin"]))
            if (dir.Length > 0 && File.Exists(Path.Combine(dir, name))) return Path.Combine(dir, name);
        return null;
    }

    /// <summary>Runs <c>ip ARGS</c> in the root namespace's view (only ever with -n or netns verbs); throws on failure.</summary>
    public static string Ip(params string[] args) => Run("ip", args);

    /// <summary>Runs a command inside a namespace (ip netns exec); throws on failure.</summary>
    public string Exec(string ns, params string[] command) => Run("ip", ["netns", "exec", ns, .. command]);

    /// <summary>Runs a command inside a namespace and returns its exit code and output without throwing.</summary>
    public (int Rc, string Output) TryExec(string ns, params string[] command) => RunRaw("ip", ["netns", "exec", ns, .. command], 20_000);

    private static string Run(string file, string[] args)
    {
        var (rc, output) = RunRaw(file, args, 20_000);
        if (rc != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({rc}): {output}");
        return output;
    }

    private static (int Rc, string Output) RunRaw(string file, string[] args, int timeoutMs)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutMs))
        {
            p.Kill(entireProcessTree: true);
            return (124, "timed out");
        }
        return (p.ExitCode, o.Result + e.Result);
    }

    /// <summary>Creates a socket inside a namespace (a short-lived thread joins it with setns; the socket keeps it).</summary>
    public static Socket Socket(string ns, AddressFamily family, SocketType type, ProtocolType protocol) =>
        InNamespace(ns, () => new Socket(family, type, protocol));

    /// <summary>Runs <paramref name="create"/> inside namespace <paramref name="ns"/> (see <see cref="NetworkNamespace.Run"/>).</summary>
    public static T InNamespace<T>(string ns, Func<T> create) => NetworkNamespace.Run(ns, create);

    /// <summary>A TCP listener in <paramref name="ns"/> that answers every connection with "hello" and echoes what it reads.</summary>
    public static TcpServer Listen(string ns, IPAddress address, int port) => new(Socket(ns, address.AddressFamily, SocketType.Stream, ProtocolType.Tcp), address, port);

    /// <summary>How a TCP connection attempt ended.</summary>
    public enum ConnectResult { Connected, Refused, TimedOut, Failed }

    /// <summary>
    /// Connects from <paramref name="ns"/> (optionally from a given source address), reads the
    /// server's greeting, sends a line and reads its echo; Connected only when all of that worked.
    /// </summary>
    public static ConnectResult Connect(string ns, IPAddress to, int port, int timeoutMs = 1500, IPAddress? from = null)
    {
        using var s = Socket(ns, to.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        if (from != null) s.Bind(new IPEndPoint(from, 0));
        try
        {
            using var cts = new CancellationTokenSource(timeoutMs);
            s.ConnectAsync(new IPEndPoint(to, port), cts.Token).AsTask().Wait();
            s.ReceiveTimeout = timeoutMs;
            s.SendTimeout = timeoutMs;
            var buf = new byte[64];
            int n = ReadExactly(s, buf, 5);
            if (Encoding.ASCII.GetString(buf, 0, n) != "hello") return ConnectResult.Failed;
            s.Send("ping\n"u8);
            n = ReadExactly(s, buf, 5);
            return Encoding.ASCII.GetString(buf, 0, n) == "ping\n" ? ConnectResult.Connected : ConnectResult.Failed;
        }
        catch (AggregateException e) when (e.InnerException is OperationCanceledException) { return ConnectResult.TimedOut; }
        catch (AggregateException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused }) { return ConnectResult.Refused; }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut || e.SocketErrorCode == SocketError.WouldBlock) { return ConnectResult.TimedOut; }
        catch (Exception e) when (e is SocketException or AggregateException) { return ConnectResult.Failed; }
    }

    private static int ReadExactly(Socket s, byte[] buf, int count)
    {
        int n = 0;
        while (n < count)
        {
            int r = s.Receive(buf, n, count - n, SocketFlags.None);
            if (r == 0) break;
            n += r;
        }
        return n;
    }

    /// <summary>
    /// Starts <c>sharptablesd</c> inside the fw namespace with a state directory holding
    /// <paramref name="rules"/> as rules.v4, and waits until it says it is ready.
    /// </summary>
    public DaemonProcess StartDaemon(string rules, params string[] args) => StartDaemon6(rules, null, args);

    /// <summary>Starts <c>sharptablesd</c> with rules.v4 and, when given, rules.v6.</summary>
    public DaemonProcess StartDaemon6(string rules, string? rules6, params string[] args)
    {
        var d = new DaemonProcess(Fw, rules, rules6, args);
        _daemons.Add(d);
        return d;
    }

    /// <summary>Starts <c>sharptablesd</c> on an existing state directory (a restart); the directory is left in place.</summary>
    public DaemonProcess RestartDaemon(string stateDir, params string[] args)
    {
        var d = new DaemonProcess(Fw, stateDir, args);
        _daemons.Add(d);
        return d;
    }

    /// <summary>The kernel's view of the fw namespace's queues (/proc/net/netfilter/nfnetlink_queue): queue number → packets queued so far (id_sequence).</summary>
    public Dictionary<int, long> QueuedPackets()
    {
        var result = new Dictionary<int, long>();
        foreach (var line in Exec(Fw, "cat", "/proc/net/netfilter/nfnetlink_queue").Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length >= 8) result[int.Parse(f[0])] = long.Parse(f[7]);
        }
        return result;
    }

    /// <summary>Deletes namespaces left by an earlier test run that was killed (named std&lt;pid&gt;x&lt;n&gt;-role, and that pid is gone).</summary>
    private static void RemoveStale()
    {
        var (rc, list) = RunRaw("ip", ["netns", "list"], 10_000);
        if (rc != 0) return;
        foreach (var line in list.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var name = line.Split(' ')[0];
            var m = System.Text.RegularExpressions.Regex.Match(name, @"^std(\d+)x\d+-(fw|cl|be)$");
            if (!m.Success || Directory.Exists($"/proc/{m.Groups[1].Value}")) continue;
            DeleteNamespace(name);
        }
    }

    private static void DeleteNamespace(string ns)
    {
        // Anything still running inside was started by a test (daemons, iptables); kill it by pid.
        var (rc, pids) = RunRaw("ip", ["netns", "pids", ns], 10_000);
        if (rc == 0)
            foreach (var pid in pids.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                if (int.TryParse(pid, out int p) && p != Environment.ProcessId)
                    try { Process.GetProcessById(p).Kill(); } catch (ArgumentException) { } catch (InvalidOperationException) { }
        RunRaw("ip", ["netns", "del", ns], 10_000);
    }

    public void Dispose()
    {
        foreach (var d in _daemons)
            try { d.Dispose(); } catch (Exception) { /* the namespaces must go regardless */ }
        foreach (var ns in _namespaces) DeleteNamespace(ns);
        _namespaces.Clear();
    }

    [LibraryImport("libc")] private static partial uint geteuid();
}

/// <summary>A listening TCP socket served by a background thread: "hello" on accept, then an echo.</summary>
public sealed class TcpServer : IDisposable
{
    private readonly Socket _listener;

    public TcpServer(Socket listener, IPAddress address, int port)
    {
        _listener = listener;
        _listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _listener.Bind(new IPEndPoint(address, port));
        _listener.Listen(64);
        new Thread(Serve) { IsBackground = true }.Start();
    }

    /// <summary>Connections accepted so far.</summary>
    public int Accepted;

    /// <summary>The address and port the last accepted connection came from.</summary>
    public volatile IPEndPoint? LastPeer;

    private void Serve()
    {
        while (true)
        {
            Socket c;
            try { c = _listener.Accept(); }
            catch (Exception e) when (e is SocketException or ObjectDisposedException) { return; }
            LastPeer = (IPEndPoint?)c.RemoteEndPoint;
            Interlocked.Increment(ref Accepted);
            new Thread(() =>
            {
                using (c)
                {
                    try
                    {
                        c.ReceiveTimeout = 5000;
                        c.Send("hello"u8);
                        var buf = new byte[64];
                        int n;
                        while ((n = c.Receive(buf)) > 0) c.Send(buf, n, SocketFlags.None);
                    }
                    catch (SocketException) { }
                }
            }) { IsBackground = true }.Start();
        }
    }

    public void Dispose() => _listener.Dispose();
}

/// <summary>sharptablesd running as a child process (ip netns exec NS dotnet sharptablesd.dll ...).</summary>
public sealed class DaemonProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public DaemonProcess(string ns, string rules, string? rules6, string[] args)
        : this(ns, NewStateDir(rules, rules6), args)
    {
        _ownsStateDir = true;
    }

    /// <summary>Runs the daemon on an existing state directory, which stays when the daemon is disposed.</summary>
    public DaemonProcess(string ns, string stateDir, string[] args)
    {
        StateDir = stateDir;
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])["netns", "exec", ns, "dotnet", Path.Combine(AppContext.BaseDirectory, "sharptablesd.dll"), "--state-dir", StateDir, .. args])
            psi.ArgumentList.Add(a);
        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var started = Task.WhenAny(_ready.Task, _process.WaitForExitAsync(), Task.Delay(30_000)).Result;
        if (!_ready.Task.IsCompleted)
        {
            Kill();
            throw new InvalidOperationException($"sharptablesd did not become ready:\n{Output}");
        }
    }

    public string StateDir { get; }
    private readonly bool _ownsStateDir;

    private static string NewStateDir(string rules, string? rules6)
    {
        var dir = Directory.CreateTempSubdirectory("sharptablesd-test-").FullName;
        File.WriteAllText(Path.Combine(dir, "rules.v4"), rules);
        if (rules6 != null) File.WriteAllText(Path.Combine(dir, "rules.v6"), rules6);
        return dir;
    }

    /// <summary>Everything the daemon printed so far.</summary>
    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    private void Append(string? line)
    {
        if (line == null) return;
        lock (_output) _output.AppendLine(line);
        if (line.StartsWith("sharptablesd: ready", StringComparison.Ordinal)) _ready.TrySetResult();
    }

    /// <summary>SIGKILL: no cleanup happens, the diversion stays behind.</summary>
    public void Kill()
    {
        if (_process.HasExited) return;
        _process.Kill();
        _process.WaitForExit(10_000);
    }

    /// <summary>SIGTERM, then waits for the exit; returns the exit code (-1 when it did not exit in time).</summary>
    public int Terminate()
    {
        if (!_process.HasExited) kill(_process.Id, 15);
        if (!_process.WaitForExit(15_000)) return -1;
        _process.WaitForExit(); // flush the output readers
        return _process.ExitCode;
    }

    private bool _disposed;

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Kill();
        _process.Dispose();
        if (_ownsStateDir)
            try { Directory.Delete(StateDir, recursive: true); } catch (IOException) { }
    }

    [DllImport("libc")] private static extern int kill(int pid, int signal);
}
