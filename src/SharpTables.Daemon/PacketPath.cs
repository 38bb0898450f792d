using SharpTables.Engine;
using SharpTables.Netlink;
using SharpTables.Packets;
using SharpTables.Rules.Model;

namespace SharpTables.Daemon;

/// <summary>
/// The engine as the queue workers share it: one <see cref="NetfilterEngine"/>, which judges the
/// workers' packets concurrently (each worker with its own <see cref="Packet"/>), the host's
/// interfaces, and per worker thread the raw sockets for the engine's own replies and the LOG
/// lines of the packet being decided. Turns a queued packet into the kernel verdict (<see cref="Decide"/>).
/// </summary>
public sealed class PacketPath : IEngineObserver, IDisposable
{
    private readonly object _swapLock = new();
    private readonly TextWriter _log;

    private readonly LogOutput? _logOutput;
    private readonly ThreadLocal<Worker> _workers = new(static () => new Worker(), trackAllValues: true);

    /// <summary>What one worker thread keeps while deciding a packet.</summary>
    private sealed class Worker
    {
        public readonly ReplySender Replies = new();
        // LOG lines of the packet being decided, and of the replies it caused (with their verdicts),
        // posted once the packet's own verdict is known. Reused.
        public readonly List<LogRecord> PacketLogs = [];
        public readonly List<(LogRecord Record, string? Verdict)> ReplyLogs = [];
        public int ReplyLogStart;
    }

    /// <param name="logOutput">Where LOG lines go (syslog, event file); null: to <paramref name="log"/>.</param>
    public PacketPath(Ruleset? ipv4, Ruleset? ipv6, TextWriter log, TimeProvider? time = null, LogOutput? logOutput = null)
    {
        _log = TextWriter.Synchronized(log);
        _logOutput = logOutput;
        var state = new EngineState(time) { Observer = this };
        Engine = new NetfilterEngine(state, CompiledRuleset.Compile(state, ipv4, ipv6));
        Interfaces = new HostInterfaces(state.Network, Engine);
    }

    public NetfilterEngine Engine { get; }
    public HostInterfaces Interfaces { get; }
    /// <summary>REJECT replies sent and refused.</summary>
    public long RepliesSent => Sum(static w => w.Replies.Sent);
    public long RepliesFailed => Sum(static w => w.Replies.Failed);

    private long Sum(Func<Worker, long> count)
    {
        long n = 0;
        foreach (var w in _workers.Values) n += count(w);
        return n;
    }

    /// <summary>
    /// Stops the packet path (no packet is being judged, none begins) until the result is
    /// disposed, on the same thread: for edits whose counters must stand still.
    /// </summary>
    public IDisposable Pause() => Engine.Pause();

    /// <summary>
    /// Compiles a new ruleset while packets keep flowing, then installs it; packets already in the
    /// engine finish with the old one. Conntrack, recent lists and other state stay. Returns the
    /// compiled ruleset (e.g. for the hooks to divert).
    /// </summary>
    public CompiledRuleset Swap(Ruleset? ipv4, Ruleset? ipv6)
    {
        lock (_swapLock)
        {
            var compiled = CompiledRuleset.Compile(Engine.State, ipv4, ipv6);
            Engine.Swap(compiled);
            return compiled;
        }
    }

    /// <summary>
    /// Runs a queued packet through the engine and returns the NF_* verdict for the kernel;
    /// <paramref name="p"/> (the caller's reusable packet) ends with the engine's mark.
    ///
    /// Hook mapping: LOCAL_OUT (and POSTROUTING without an input device) → <see cref="NetfilterEngine.SendLocal"/>;
    /// everything else → <see cref="NetfilterEngine.Receive"/> on the input interface, which runs
    /// PREROUTING and the engine's own routing to INPUT or FORWARD/POSTROUTING. A FORWARD packet's
    /// TTL was already decremented by the kernel, so it is restored first (the engine decrements it
    /// again, as ip_forward does). Partial checksums (offload, NFQA_SKB_CSUMNOTREADY) are completed
    /// in the copy, so conntrack and REJECT see the packet as it is on the wire.
    /// Engine verdicts: ACCEPT/DROP as they are; STOLEN (a fragment held for reassembly) is
    /// accepted — the fragment that completes the datagram carries the datagram's verdict; QUEUE
    /// (a rule's own -j NFQUEUE) passes the packet on to that queue. Workers call this concurrently.
    /// </summary>
    public uint Decide(in NfQueuePacket q, Packet p)
    {
        if (!p.Load(q.Payload) && p.Info.Version is not (4 or 6)) return NfVerdict.Drop;
        if ((q.SkbInfo & NfSkbInfo.ChecksumNotReady) != 0 && q.OriginalLength == q.Payload.Length)
            Checksum.SetTransport(p.WritableBytes);
        p.Mark = q.Mark;
        PacketResult result;
        bool local = q.Hook == NfHook.LocalOut || (q.Hook == NfHook.PostRouting && q.InIfIndex == 0);
        if (local)
        {
            p.SocketUid = q.Uid;
            p.SocketGid = q.Gid;
            result = Engine.SendLocal(p);
        }
        else
        {
            var iface = Interfaces[q.InIfIndex];
            if (iface == null) return NfVerdict.Drop;
            if (q.HwAddress.Length == 6) SetMacHeader(p, iface, q.HwAddress, q.HwProtocol);
            if (q.Hook == NfHook.Forward) RestoreTtl(p);
            result = Engine.Receive(p, iface);
        }
        var w = _workers.Value!;
        if (w.PacketLogs.Count + w.ReplyLogs.Count > 0) PostLogs(w, LogOutput.VerdictName(result.Verdict));
        return result.Verdict switch
        {
            Verdict.Accept or Verdict.Stolen => NfVerdict.Accept,
            Verdict.Queue => NfVerdict.ToQueue(result.QueueNumber, result.QueueBypass),
            _ => NfVerdict.Drop,
        };
    }

    /// <summary>The frame's Ethernet header as the kernel's LOG and mac match see it: our MAC, the sender's, the ethertype.</summary>
    private static void SetMacHeader(Packet p, NetInterface iface, ReadOnlySpan<byte> source, ushort ethertype)
    {
        Span<byte> h = stackalloc byte[14];
        iface.Mac.CopyTo(h);
        source.CopyTo(h[6..]);
        h[12] = (byte)(ethertype >> 8);
        h[13] = (byte)ethertype;
        p.SetMacHeader(h);
    }

    /// <summary>Undoes ip_forward's / ip6_forward's TTL (hop limit) decrement, with the IPv4 checksum fixed.</summary>
    private static void RestoreTtl(Packet p)
    {
        var b = p.WritableBytes;
        if (p.Info.Version == 4 && b.Length >= 20 && b[8] < 255)
        {
            b[8]++;
            Checksum.SetIpv4Header(b);
            p.Info.Ttl++;
        }
        else if (p.Info.Version == 6 && b.Length >= 40 && b[7] < 255)
        {
            b[7]++;
            p.Info.Ttl++;
        }
    }

    /// <summary>A REJECT reply that made it through OUTPUT and POSTROUTING goes out for real.</summary>
    void IEngineObserver.OnLocalOut(Packet p, in PacketResult result)
    {
        var w = _workers.Value!;
        if (result.Verdict == Verdict.Accept) w.Replies.Send(p.Bytes);
        // The LOG lines since the previous reply were this reply's.
        var verdict = LogOutput.VerdictName(result.Verdict);
        for (int i = w.ReplyLogStart; i < w.ReplyLogs.Count; i++) w.ReplyLogs[i] = (w.ReplyLogs[i].Record, verdict);
        w.ReplyLogStart = w.ReplyLogs.Count;
    }

    /// <summary>
    /// A LOG line, kept until the verdict is known. A reply is walked only after its packet's walk
    /// ended (REJECT is final), and while replies are walked the engine's LocalOut queue (this
    /// thread's) holds them, which tells the two kinds of lines apart.
    /// </summary>
    void IEngineObserver.OnLog(in LogRecord record)
    {
        var w = _workers.Value!;
        if (Engine.State.LocalOut.Count > 0) w.ReplyLogs.Add((record, null));
        else w.PacketLogs.Add(record);
    }

    /// <summary>Hands the packet's LOG lines (then its replies') to the output, in the order they fired.</summary>
    private void PostLogs(Worker w, string? verdict)
    {
        foreach (var r in w.PacketLogs) Post(r, verdict);
        foreach (var (r, v) in w.ReplyLogs) Post(r, v);
        w.PacketLogs.Clear();
        w.ReplyLogs.Clear();
        w.ReplyLogStart = 0;
    }

    private void Post(in LogRecord record, string? verdict)
    {
        if (_logOutput != null) _logOutput.Post(record, verdict);
        else _log.WriteLine($"<{record.Level}>{record.Text}");
    }

    public void Dispose()
    {
        foreach (var w in _workers.Values) w.Replies.Dispose();
        _workers.Dispose();
    }
}
