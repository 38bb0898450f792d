using System.Net.Sockets;

namespace SharpTables.Cli.Control;

/// <summary>
/// The CLI's side of the control socket. A daemon is "running" when its socket exists and a
/// connection is accepted; a socket file left by a killed daemon refuses connections, and the
/// CLI then works on the state files itself.
/// </summary>
public static class ControlClient
{
    /// <summary>How long the client waits for the daemon's answer (a command may wait for the state lock first).</summary>
    public static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(120);

    /// <summary>
    /// Connects to the daemon serving <paramref name="stateDirectory"/>. Null when none answers.
    /// Throws <see cref="UnauthorizedAccessException"/> when one is there but the socket's mode
    /// keeps this user out.
    /// </summary>
    public static Socket? TryConnect(string stateDirectory)
    {
        var path = ControlProtocol.SocketPath(stateDirectory);
        if (!File.Exists(path)) return null;
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(path));
            return socket;
        }
        catch (SocketException e)
        {
            socket.Dispose();
            if (e.SocketErrorCode == SocketError.AccessDenied)
                throw new UnauthorizedAccessException($"sharptablesd is running (control socket {path}), and only root may send it commands");
            return null;
        }
    }

    /// <summary>Sends one request on a connected socket and waits for the answer.</summary>
    public static ControlResponse Send(Socket socket, ControlRequest request)
    {
        socket.ReceiveTimeout = (int)AnswerTimeout.TotalMilliseconds;
        using var stream = new NetworkStream(socket, ownsSocket: false);
        ControlProtocol.Write(stream, request);
        var response = ControlProtocol.Read<ControlResponse>(stream);
        if (response.Version != ControlProtocol.Version)
            throw new ControlProtocolException($"the daemon speaks control protocol version {response.Version}, this sharptables {ControlProtocol.Version}");
        return response;
    }

    /// <summary>Writes a response's output to the caller's streams in order and returns its exit code.</summary>
    public static int Replay(ControlResponse response, TextWriter stdout, TextWriter stderr)
    {
        foreach (var chunk in response.Output)
            (chunk.Fd == 2 ? stderr : stdout).Write(chunk.Text);
        stdout.Flush();
        stderr.Flush();
        return response.Exit;
    }
}
