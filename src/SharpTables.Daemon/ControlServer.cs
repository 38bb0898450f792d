using System.Net.Sockets;
using System.Runtime.InteropServices;
using SharpTables.Cli;
using SharpTables.Cli.Control;

namespace SharpTables.Daemon;

/// <summary>
/// The control socket, <c>STATE_DIR/control.sock</c> (mode 0600): accepts one request per
/// connection (<see cref="ControlProtocol"/>), runs the command line through the same CLI code
/// as the offline tool on the daemon's live rulesets (<see cref="DaemonRulesetHost"/>), and
/// answers with its output and exit code. Only root (and the daemon's own user) may talk to it:
/// the peer's uid is checked with SO_PEERCRED. Commands run one at a time. A message that cannot
/// be understood is answered with an error and changes nothing.
/// </summary>
public sealed partial class ControlServer : IDisposable
{
    /// <summary>How long a client may take to send its request.</summary>
    private const int ReceiveTimeoutMs = 30_000;

    private readonly SharpTablesDaemon _daemon;
    private readonly DaemonRulesetHost _host;
    private readonly TextWriter _log;
    private readonly object _commandLock = new();
    private readonly uint _ownUid = geteuid();
    private Socket? _listener;
    private Thread? _acceptThread;

    /// <summary>A server for <paramref name="daemon"/>'s rulesets on <paramref name="host"/>'s state directory; <see cref="Start"/> binds it.</summary>
    public ControlServer(SharpTablesDaemon daemon, DaemonRulesetHost host, TextWriter log)
    {
        _daemon = daemon;
        _host = host;
        _log = log;
        SocketPath = ControlProtocol.SocketPath(host.StateDirectory);
    }

    /// <summary>Where the socket lives.</summary>
    public string SocketPath { get; }

    /// <summary>Whether a daemon already answers on the socket of <paramref name="stateDirectory"/>.</summary>
    public static bool AnotherIsRunning(string stateDirectory)
    {
        try
        {
            using var s = ControlClient.TryConnect(stateDirectory);
            return s != null;
        }
        catch (UnauthorizedAccessException)
        {
            return true;
        }
    }

    /// <summary>
    /// Binds the socket under a temporary name, restricts it to mode 0600, then renames it into
    /// place (replacing a stale one left by a killed daemon), and starts accepting.
    /// </summary>
    public void Start()
    {
        Directory.CreateDirectory(_host.StateDirectory);
        var temp = System.IO.Path.Combine(_host.StateDirectory, $".{ControlProtocol.SocketName}.{Environment.ProcessId}");
        File.Delete(temp);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(temp));
            if (chmod(temp, 0x180 /* 0600 */) != 0)
                throw new IOException($"chmod 0600 {temp}: errno {Marshal.GetLastPInvokeError()}");
            File.Move(temp, SocketPath, overwrite: true);
            listener.Listen(16);
        }
        catch
        {
            listener.Dispose();
            File.Delete(temp);
            throw;
        }
        _listener = listener;
        _acceptThread = new Thread(AcceptLoop) { IsBackground = true, Name = "control" };
        _acceptThread.Start();
    }

    /// <summary>Stops accepting, waits for a command in progress, and removes the socket file.</summary>
    public void Stop()
    {
        var listener = Interlocked.Exchange(ref _listener, null);
        if (listener == null) return;
        // shutdown() wakes the thread blocked in accept(); closing alone does not on Linux.
        try { listener.Shutdown(SocketShutdown.Both); } catch (SocketException) { }
        listener.Dispose();
        _acceptThread?.Join(TimeSpan.FromSeconds(5));
        lock (_commandLock)
        {
            try { File.Delete(SocketPath); } catch (IOException) { }
        }
    }

    private void AcceptLoop()
    {
        while (_listener is { } listener)
        {
            Socket client;
            try { client = listener.Accept(); }
            catch (Exception e) when (e is SocketException or ObjectDisposedException) { return; }
            new Thread(() => Serve(client)) { IsBackground = true, Name = "control-client" }.Start();
        }
    }

    private void Serve(Socket client)
    {
        using (client)
        using (var stream = new NetworkStream(client))
        {
            client.ReceiveTimeout = ReceiveTimeoutMs;
            uint uid = PeerUid(client);
            bool allowed = uid == 0 || uid == _ownUid;
            ControlResponse response;
            if (!allowed)
            {
                // Nothing of the message is looked at.
                _log.WriteLine($"sharptablesd: control: refused a client with uid {uid}");
                response = Failure(4, $"sharptablesd: permission denied: only root may control the daemon (you are uid {uid})");
            }
            else
            {
                try
                {
                    response = Execute(ControlProtocol.Read<ControlRequest>(stream));
                }
                catch (ControlProtocolException e) when (e.Closed)
                {
                    return; // a client checking that the daemon is there
                }
                catch (ControlProtocolException e)
                {
                    _log.WriteLine($"sharptablesd: control: bad message: {e.Message}");
                    response = Failure(2, $"sharptablesd: bad control message: {e.Message}");
                }
                catch (IOException)
                {
                    return; // the client went away or never finished its message
                }
            }
            try
            {
                ControlProtocol.Write(stream, response);
                // Read what the client may still be sending before closing: closing a Unix
                // socket with unread data resets the connection, and the answer could be lost.
                client.Shutdown(SocketShutdown.Send);
                client.ReceiveTimeout = 1000;
                var sink = new byte[4096];
                while (client.Receive(sink) > 0) { }
            }
            catch (Exception e) when (e is IOException or SocketException) { /* the client went away */ }
        }
    }

    /// <summary>Runs one request's command line; the rulesets change only when the command succeeds.</summary>
    internal ControlResponse Execute(ControlRequest request)
    {
        if (request.Version != ControlProtocol.Version)
            return Failure(2, $"sharptablesd: bad control message: protocol version {request.Version}, this daemon speaks {ControlProtocol.Version}");
        if (request.Argv == null || request.Argv.Any(a => a == null))
            return Failure(2, "sharptablesd: bad control message: no command line");
        var output = new OutputRecorder();
        int rc;
        lock (_commandLock)
        {
            var context = new CliContext
            {
                Host = _host,
                WorkingDirectory = request.Cwd,
                StderrIsTerminal = request.StderrIsTerminal,
                HintsMode = request.Hints,
                Now = request.Now,
                Recent = _daemon.Path.Engine.State.Recent,
            };
            try
            {
                rc = SharpTablesCli.Run(request.Argv, output.Out, output.Error, new StringReader(request.Stdin ?? ""), context);
            }
            catch (Exception e)
            {
                // The CLI code reports every user error itself; this is a failure of the daemon
                // (e.g. the diversion could not be updated). Compiling and persisting come before
                // the swap, so the rules did not change unless the swap itself happened.
                _log.WriteLine($"sharptablesd: control: {string.Join(' ', request.Argv)}: {e}");
                output.Error.WriteLine($"sharptablesd: {e.Message}");
                rc = 4;
            }
        }
        return new ControlResponse { Version = ControlProtocol.Version, Exit = rc, Output = output.Finish() };
    }

    private static ControlResponse Failure(int exit, string message) =>
        new() { Version = ControlProtocol.Version, Exit = exit, Output = [new OutputChunk(2, message + "\n")] };

    /// <summary>The connecting process's uid (SO_PEERCRED: struct ucred { pid, uid, gid }); uint.MaxValue when unknown.</summary>
    private static uint PeerUid(Socket s)
    {
        Span<byte> cred = stackalloc byte[12];
        try
        {
            int n = s.GetRawSocketOption(1 /* SOL_SOCKET */, 17 /* SO_PEERCRED */, cred);
            return n >= 8 ? MemoryMarshal.Read<uint>(cred[4..]) : uint.MaxValue;
        }
        catch (SocketException)
        {
            return uint.MaxValue;
        }
    }

    /// <summary>Same as <see cref="Stop"/>.</summary>
    public void Dispose() => Stop();

    [LibraryImport("libc")] private static partial uint geteuid();
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial int chmod(string path, uint mode);
}
