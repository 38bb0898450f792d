using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace SharpTables.Cli.Control;

/// <summary>
/// The control socket's wire format (sharptables ↔ sharptablesd): each message is a 4-byte
/// big-endian length followed by that many bytes of UTF-8 JSON. The client sends one
/// <see cref="ControlRequest"/>, the daemon answers with one <see cref="ControlResponse"/> and
/// closes. Both carry <c>"version"</c>; a daemon refuses a version it does not speak.
/// </summary>
public static class ControlProtocol
{
    /// <summary>The protocol version spoken here.</summary>
    public const int Version = 1;
    /// <summary>The socket's file name inside the state directory.</summary>
    public const string SocketName = "control.sock";
    /// <summary>The largest message accepted (a restore file travels inside a request).</summary>
    public const int MaxMessage = 256 << 20;

    /// <summary>JSON names are camelCase.</summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The control socket of a state directory.</summary>
    public static string SocketPath(string stateDirectory) => Path.Combine(stateDirectory, SocketName);

    /// <summary>Writes one message.</summary>
    public static void Write<T>(Stream stream, T message)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(message, Json);
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, body.Length);
        stream.Write(length);
        stream.Write(body);
        stream.Flush();
    }

    /// <summary>
    /// Reads one message. Throws <see cref="ControlProtocolException"/> for a bad length, a short
    /// message or JSON that does not parse into <typeparamref name="T"/>.
    /// </summary>
    public static T Read<T>(Stream stream) where T : class
    {
        Span<byte> length = stackalloc byte[4];
        ReadExactly(stream, length);
        int n = BinaryPrimitives.ReadInt32BigEndian(length);
        if (n <= 0 || n > MaxMessage) throw new ControlProtocolException($"message length {n} out of range (1..{MaxMessage})");
        var body = new byte[n];
        ReadExactly(stream, body);
        try
        {
            return JsonSerializer.Deserialize<T>(body, Json) ?? throw new ControlProtocolException("empty message");
        }
        catch (JsonException e)
        {
            throw new ControlProtocolException($"message is not valid JSON: {e.Message}");
        }
    }

    private static void ReadExactly(Stream stream, Span<byte> buffer)
    {
        int got = 0;
        while (got < buffer.Length)
        {
            int r = stream.Read(buffer[got..]);
            if (r == 0)
                throw got == 0 && buffer.Length == 4
                    ? new ControlProtocolException("connection closed") { Closed = true }
                    : new ControlProtocolException("message cut short");
            got += r;
        }
    }
}

/// <summary>A control message that cannot be understood.</summary>
public sealed class ControlProtocolException(string message) : Exception(message)
{
    /// <summary>The peer closed the connection before sending anything (a client only checking that the daemon answers).</summary>
    public bool Closed { get; init; }
}

/// <summary>A command for the daemon: the whole command line and what it needs of the caller's environment.</summary>
public sealed record ControlRequest
{
    /// <summary><see cref="ControlProtocol.Version"/>.</summary>
    public int Version { get; init; }
    /// <summary>The command line as the client got it (its --state-dir is ignored: the daemon has one).</summary>
    public string[]? Argv { get; init; }
    /// <summary>The client's working directory, for relative file names.</summary>
    public string? Cwd { get; init; }
    /// <summary>The client's standard input, when the command reads it (restore without a file).</summary>
    public string? Stdin { get; init; }
    /// <summary>Whether the client's stderr is a terminal.</summary>
    public bool StderrIsTerminal { get; init; }
    /// <summary>The client's SHARPTABLES_HINTS.</summary>
    public string? Hints { get; init; }
    /// <summary>The client's local time, without a zone.</summary>
    public DateTime? Now { get; init; }
}

/// <summary>The daemon's answer: the exit code and the output, in the order it was written.</summary>
public sealed record ControlResponse
{
    /// <summary><see cref="ControlProtocol.Version"/>.</summary>
    public int Version { get; init; }
    /// <summary>The command's exit code.</summary>
    public int Exit { get; init; }
    /// <summary>What the command wrote to stdout (fd 1) and stderr (fd 2), chunk by chunk.</summary>
    public List<OutputChunk> Output { get; init; } = [];
}

/// <summary>Text written to one stream.</summary>
public sealed record OutputChunk(int Fd, string Text);

/// <summary>
/// A pair of writers (stdout, stderr) recording what is written as <see cref="OutputChunk"/>s in
/// order, so the client can replay the interleaving exactly.
/// </summary>
public sealed class OutputRecorder
{
    /// <summary>The chunks so far.</summary>
    public List<OutputChunk> Chunks { get; } = [];
    private readonly StringBuilder _current = new();
    private int _fd;

    /// <summary>An empty recording.</summary>
    public OutputRecorder()
    {
        Out = new StreamWriter(this, 1);
        Error = new StreamWriter(this, 2);
    }

    /// <summary>The recorded stdout.</summary>
    public TextWriter Out { get; }
    /// <summary>The recorded stderr.</summary>
    public TextWriter Error { get; }

    /// <summary>Ends the current chunk and returns all of them.</summary>
    public List<OutputChunk> Finish()
    {
        Flush();
        return Chunks;
    }

    private void Append(int fd, ReadOnlySpan<char> text)
    {
        if (text.IsEmpty) return;
        if (fd != _fd) Flush();
        _fd = fd;
        _current.Append(text);
    }

    private void Flush()
    {
        if (_current.Length > 0) Chunks.Add(new OutputChunk(_fd, _current.ToString()));
        _current.Clear();
    }

    private sealed class StreamWriter(OutputRecorder owner, int fd) : TextWriter
    {
        public override Encoding Encoding => Encoding.UTF8;
        public override void Write(char value) => owner.Append(fd, [value]);
        public override void Write(string? value) => owner.Append(fd, value);
        public override void Write(char[] buffer, int index, int count) => owner.Append(fd, buffer.AsSpan(index, count));
        public override void Write(ReadOnlySpan<char> buffer) => owner.Append(fd, buffer);
    }
}
