using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using SharpTables.Engine;

namespace SharpTables.Daemon;

/// <summary>
/// Where the LOG target's lines go: syslog and a JSON-lines event file.
///
/// Syslog: one datagram per line to a Unix socket (<c>/dev/log</c>), in the RFC 3164 form a
/// local sender uses (no hostname; the syslog daemon adds it), with facility kern (0) and the
/// rule's --log-level as severity, tagged <c>kernel:</c> and carrying the kernel's printk
/// timestamp (seconds since boot), so rsyslog files it as it files the kernel's own lines read by
/// imklog with its defaults: <c>&lt;4&gt;Mar  4 05:06:07 kernel: [ 1234.567890] DROP INPUT: IN=eth0 ...</c>
/// (kern.log then shows <c>HOST kernel: [ 1234.567890] DROP INPUT: IN=eth0 ...</c>).
///
/// Event file: one JSON object per line,
/// <c>{"time":"…Z","level":4,"prefix":"DROP INPUT: ","text":"DROP INPUT: IN=eth0 …","verdict":"DROP"}</c>,
/// verdict being the packet's final verdict (ACCEPT, DROP, QUEUE) or null when it is not known.
///
/// The packet path only queues a record (<see cref="Post"/>); a background thread formats and
/// writes, so a slow syslog or disk never holds packets. When the queue is full, records are
/// counted in <see cref="Lost"/> instead. When the syslog socket is absent, one notice goes to
/// the daemon's log and the event file is still written.
/// </summary>
public sealed class LogOutput : IDisposable
{
    /// <summary>The usual syslog socket.</summary>
    public const string DefaultSyslogSocket = "/dev/log";
    /// <summary>The event file's name in the state directory.</summary>
    public const string EventFileName = "events.jsonl";
    private const int Capacity = 8192;

    private readonly BlockingCollection<Entry> _queue = new(Capacity);
    private readonly string? _syslogPath;
    private readonly TextWriter _notices;
    private readonly Socket? _syslog;
    private readonly UnixDomainSocketEndPoint? _syslogEndPoint;
    private readonly FileStream? _events;
    private readonly Thread _writer;
    private bool _noticed;
    private long _lost, _written;

    private readonly record struct Entry(LogRecord Record, string? Verdict, DateTime Time, long Monotonic);

    /// <param name="syslogSocket">The syslog socket's path; null for no syslog.</param>
    /// <param name="eventFile">The JSON-lines file (appended to); null for none.</param>
    /// <param name="notices">Where notices about the outputs go (the daemon's stderr).</param>
    public LogOutput(string? syslogSocket, string? eventFile, TextWriter notices)
    {
        _syslogPath = syslogSocket;
        _notices = notices;
        if (eventFile != null)
            _events = new FileStream(eventFile, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        EventFile = eventFile;
        if (syslogSocket != null)
        {
            _syslog = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            _syslogEndPoint = new UnixDomainSocketEndPoint(syslogSocket);
            if (!File.Exists(syslogSocket)) Notice($"{syslogSocket} is not there (no syslog daemon running?)");
        }
        _writer = new Thread(Write) { IsBackground = true, Name = "log-output" };
        _writer.Start();
    }

    /// <summary>The event file, or null.</summary>
    public string? EventFile { get; }
    /// <summary>Records dropped because the queue was full.</summary>
    public long Lost => Interlocked.Read(ref _lost);
    /// <summary>Records written so far.</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>Queues one LOG line with the packet's verdict (null when unknown). Never blocks.</summary>
    public void Post(in LogRecord record, string? verdict)
    {
        if (!_queue.TryAdd(new Entry(record, verdict, DateTime.UtcNow, Stopwatch.GetTimestamp())))
            Interlocked.Increment(ref _lost);
    }

    /// <summary>The name of an engine verdict in the event file.</summary>
    public static string? VerdictName(Verdict v) => v switch
    {
        Verdict.Accept => "ACCEPT",
        Verdict.Drop => "DROP",
        Verdict.Queue => "QUEUE",
        _ => null,
    };

    /// <summary>
    /// The syslog datagram for a line: <c>&lt;PRI&gt;Mmm dd hh:mm:ss kernel: [seconds.micros] TEXT</c>,
    /// PRI = facility kern (0) × 8 + level, the time local, the day padded with a space (RFC 3164),
    /// the bracket as printk prints it (<c>[%5lu.%06lu]</c>, monotonic time since boot).
    /// </summary>
    public static string SyslogLine(int level, string text, DateTime localTime, TimeSpan sinceBoot)
    {
        var stamp = localTime.ToString("MMM", CultureInfo.InvariantCulture) + " " +
                    localTime.Day.ToString(CultureInfo.InvariantCulture).PadLeft(2) + " " +
                    localTime.ToString("HH:mm:ss", CultureInfo.InvariantCulture);
        long micros = sinceBoot.Ticks / 10;
        var boot = $"[{(micros / 1_000_000).ToString(CultureInfo.InvariantCulture).PadLeft(5)}.{(micros % 1_000_000).ToString("D6", CultureInfo.InvariantCulture)}]";
        return $"<{(level & 7)}>{stamp} kernel: {boot} {text}";
    }

    /// <summary>One event file line (without the newline).</summary>
    public static string EventLine(DateTime utc, int level, string prefix, string text, string? verdict)
    {
        var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("time", utc.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture));
            json.WriteNumber("level", level);
            json.WriteString("prefix", prefix);
            json.WriteString("text", text);
            if (verdict == null) json.WriteNull("verdict");
            else json.WriteString("verdict", verdict);
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private void Write()
    {
        foreach (var e in _queue.GetConsumingEnumerable())
        {
            try
            {
                WriteOne(e);
                while (_queue.TryTake(out var next)) WriteOne(next);
                _events?.Flush();
            }
            catch (Exception ex) when (ex is IOException or SocketException or UnauthorizedAccessException)
            {
                Notice($"writing LOG lines failed: {ex.Message}");
            }
        }
    }

    private void WriteOne(in Entry e)
    {
        var r = e.Record;
        if (_syslog != null)
        {
            var sinceBoot = TimeSpan.FromSeconds((double)e.Monotonic / Stopwatch.Frequency);
            var datagram = Encoding.UTF8.GetBytes(SyslogLine(r.Level, r.Text, e.Time.ToLocalTime(), sinceBoot));
            try
            {
                _syslog.SendTo(datagram, _syslogEndPoint!);
            }
            catch (SocketException ex)
            {
                Notice($"{_syslogPath}: {ex.Message} (no syslog daemon running?)");
            }
        }
        if (_events != null)
        {
            var line = EventLine(e.Time, r.Level, r.Prefix, r.Text, e.Verdict);
            _events.Write(Encoding.UTF8.GetBytes(line + "\n"));
        }
        Interlocked.Increment(ref _written);
    }

    /// <summary>Says once why syslog gets nothing.</summary>
    private void Notice(string why)
    {
        if (_noticed) return;
        _noticed = true;
        _notices.WriteLine($"sharptablesd: {why}: LOG lines go " +
                           (_events != null ? $"only to {EventFile}" : "nowhere (no event file either)"));
    }

    /// <summary>Writes what is queued, then closes the socket and the file.</summary>
    public void Dispose()
    {
        _queue.CompleteAdding();
        _writer.Join(TimeSpan.FromSeconds(5));
        _syslog?.Dispose();
        _events?.Dispose();
        _queue.Dispose();
    }
}
