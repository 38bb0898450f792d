using SharpTables.Netlink;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace SharpTables.Cli.Demo;

/// <summary>
/// The demo's two hosts: network namespaces <see cref="Server"/> (eth0 198.51.100.1/24) and
/// <see cref="Client"/> (eth0 198.51.100.2/24) joined by a veth pair, TCP services on the server,
/// and sharptablesd running inside the server namespace. Everything it creates has a fixed name,
/// so <see cref="RemoveLeftovers"/> can clear what an interrupted run left behind; the root
/// namespace's links and firewall are never touched.
/// </summary>
internal sealed class DemoLab : IDisposable
{
    public const string Server = "sharptables-demo-server";
    public const string Client = "sharptables-demo-client";
    public const string StateDirectory = "/run/sharptables-demo";
    public static readonly IPAddress ServerAddress = IPAddress.Parse("198.51.100.1");
    public static readonly IPAddress ClientAddress = IPAddress.Parse("198.51.100.2");

    private readonly List<Socket> _listeners = [];
    private Process? _daemon;
    private readonly StringBuilder _daemonOutput = new();

    /// <summary>Deletes the demo's namespaces (killing what runs inside) and state directory, if an earlier run left them.</summary>
    public static void RemoveLeftovers()
    {
        foreach (var ns in new[] { Server, Client })
        {
            if (!File.Exists($"/run/netns/{ns}")) continue;
            var (rc, pids) = Run("ip", "netns", "pids", ns);
            if (rc == 0)
                foreach (var pid in pids.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    if (int.TryParse(pid, out int p) && p != Environment.ProcessId) kill(p, 9);
            Run("ip", "netns", "del", ns);
        }
        if (Directory.Exists(StateDirectory)) Directory.Delete(StateDirectory, recursive: true);
    }

    /// <summary>Creates the namespaces and the veth link between them.</summary>
    public void Build()
    {
        foreach (var ns in new[] { Server, Client })
        {
            Must("ip", "netns", "add", ns);
            Must("ip", "-n", ns, "link", "set", "lo", "up");
            // No IPv6 chatter (router solicitations, DAD) in the counters.
            Must("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1");
            Must("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1");
        }
        Must("ip", "-n", Server, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", Client);
        Must("ip", "-n", Server, "addr", "add", "198.51.100.1/24", "dev", "eth0");
        Must("ip", "-n", Client, "addr", "add", "198.51.100.2/24", "dev", "eth0");
        Must("ip", "-n", Server, "link", "set", "eth0", "up");
        Must("ip", "-n", Client, "link", "set", "eth0", "up");
    }

    /// <summary>A TCP service on the server that sends <paramref name="banner"/> to every connection and closes it.</summary>
    public void Serve(int port, string banner)
    {
        var listener = InNamespace(Server, () => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Bind(new IPEndPoint(IPAddress.Any, port));
        listener.Listen(64);
        _listeners.Add(listener);
        var bytes = Encoding.ASCII.GetBytes(banner);
        new Thread(() =>
        {
            while (true)
            {
                Socket c;
                try { c = listener.Accept(); }
                catch (Exception e) when (e is SocketException or ObjectDisposedException) { return; }
                using (c)
                {
                    try { c.Send(bytes); c.Shutdown(SocketShutdown.Both); }
                    catch (SocketException) { }
                }
            }
        }) { IsBackground = true, Name = $"demo-service-{port}" }.Start();
    }

    /// <summary>How a connection attempt from the client ended.</summary>
    public enum PortState { Open, Closed, Filtered }

    /// <summary>A TCP connect from the client; the server's first line when it answered.</summary>
    public static (PortState State, string? Banner) Connect(int port, TimeSpan timeout)
    {
        using var s = InNamespace(Client, () => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        try
        {
            using var cts = new CancellationTokenSource(timeout);
            s.ConnectAsync(new IPEndPoint(ServerAddress, port), cts.Token).AsTask().GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) { return (PortState.Filtered, null); }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused) { return (PortState.Closed, null); }
        catch (SocketException) { return (PortState.Filtered, null); }
        s.ReceiveTimeout = (int)timeout.TotalMilliseconds;
        var buf = new byte[256];
        try
        {
            int n = s.Receive(buf);
            return (PortState.Open, Encoding.ASCII.GetString(buf, 0, n).TrimEnd('\r', '\n'));
        }
        catch (SocketException)
        {
            return (PortState.Open, null);
        }
    }

    /// <summary>
    /// Sends one hand-made TCP segment from the client (a raw socket there) and reports the
    /// server's answer within <paramref name="timeout"/>: its TCP flags, or null for silence.
    /// </summary>
    public static string? Probe(byte flags, int port, TimeSpan timeout)
    {
        using var tx = InNamespace(Client, () => new Socket(AddressFamily.InterNetwork, SocketType.Raw, ProtocolType.Raw));
        using var rx = InNamespace(Client, () => new Socket(AddressFamily.InterNetwork, SocketType.Raw, ProtocolType.Tcp));
        ushort sport = (ushort)Random.Shared.Next(40000, 60000);
        var packet = new Packets.PacketBuilder
        {
            Source = Address(ClientAddress),
            Destination = Address(ServerAddress),
            Protocol = 6,
            SourcePort = sport,
            DestinationPort = (ushort)port,
            TcpFlags = flags,
            Sequence = (uint)Random.Shared.Next(),
            Window = 1024,
        }.ToArray();
        tx.SendTo(packet, new IPEndPoint(ServerAddress, 0));
        var deadline = DateTime.UtcNow + timeout;
        var buf = new byte[2048];
        while (DateTime.UtcNow < deadline)
        {
            if (!rx.Poll((int)Math.Max(1, (deadline - DateTime.UtcNow).TotalMicroseconds), SelectMode.SelectRead)) break;
            int n = rx.Receive(buf);
            int ihl = (buf[0] & 15) * 4;
            if (n < ihl + 20 || !buf.AsSpan(12, 4).SequenceEqual(ServerAddress.GetAddressBytes())) continue;
            int answerPort = (buf[ihl] << 8) | buf[ihl + 1], toPort = (buf[ihl + 2] << 8) | buf[ihl + 3];
            if (answerPort == port && toPort == sport) return FlagNames(buf[ihl + 13]);
        }
        return null;
    }

    /// <summary>TCP flags the way tcpdump names them (FIN, SYN, RST, PSH, ACK, URG).</summary>
    public static string FlagNames(byte flags)
    {
        string[] names = ["FIN", "SYN", "RST", "PSH", "ACK", "URG"];
        var set = Enumerable.Range(0, 6).Where(i => (flags & (1 << i)) != 0).Select(i => names[i]).ToList();
        return set.Count == 0 ? "none" : string.Join(",", set);
    }

    private static UInt128 Address(IPAddress a)
    {
        var b = a.GetAddressBytes();
        return (uint)((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]);
    }

    /// <summary>Starts sharptablesd in the server namespace on the demo's state directory and waits until it is ready.</summary>
    public void StartDaemon(string dotnet, string daemonDll, CancellationToken cancel)
    {
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "netns", "exec", Server, dotnet, daemonDll, "--state-dir", StateDirectory, "--syslog", "none" })
            psi.ArgumentList.Add(a);
        var ready = new ManualResetEventSlim();
        _daemon = Process.Start(psi) ?? throw new InvalidOperationException("cannot start sharptablesd");
        DataReceivedEventHandler collect = (_, e) =>
        {
            if (e.Data == null) return;
            lock (_daemonOutput) _daemonOutput.AppendLine(e.Data);
            if (e.Data.StartsWith("sharptablesd: ready", StringComparison.Ordinal)) ready.Set();
        };
        _daemon.OutputDataReceived += collect;
        _daemon.ErrorDataReceived += collect;
        _daemon.BeginOutputReadLine();
        _daemon.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!ready.Wait(200, cancel))
        {
            if (_daemon.HasExited || DateTime.UtcNow > deadline)
                throw new InvalidOperationException($"sharptablesd did not start:\n{DaemonOutput}");
        }
    }

    /// <summary>What the daemon printed.</summary>
    public string DaemonOutput
    {
        get { lock (_daemonOutput) return _daemonOutput.ToString(); }
    }

    /// <summary>Stops the daemon (SIGTERM, then SIGKILL), the services, and deletes the namespaces and the state directory.</summary>
    public void Dispose()
    {
        if (_daemon != null)
        {
            try
            {
                if (!_daemon.HasExited) kill(_daemon.Id, 15);
                if (!_daemon.WaitForExit(10_000)) _daemon.Kill();
            }
            catch (InvalidOperationException) { /* already gone */ }
            _daemon.Dispose();
            _daemon = null;
        }
        foreach (var l in _listeners) l.Dispose();
        _listeners.Clear();
        RemoveLeftovers();
    }

    /// <summary>Runs <paramref name="create"/> inside namespace <paramref name="ns"/> (see <see cref="NetworkNamespace.Run"/>).</summary>
    public static T InNamespace<T>(string ns, Func<T> create) => NetworkNamespace.Run(ns, create);

    private static void Must(string file, params string[] args)
    {
        var (rc, output) = Run(file, args);
        if (rc != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed: {output.Trim()}");
    }

    /// <summary>Runs a program, returning its exit code and output (stdout and stderr).</summary>
    public static (int Rc, string Output) Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot run {file}");
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60_000))
        {
            p.Kill(entireProcessTree: true);
            return (124, $"{file} timed out");
        }
        return (p.ExitCode, o.Result + e.Result);
    }

    [DllImport("libc")] private static extern int kill(int pid, int signal);
}
