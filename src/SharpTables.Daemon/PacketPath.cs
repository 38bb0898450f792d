using System.Buffers.Binary;
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
    private readonly SourceTickets _tickets = new();
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
    /// <paramref name="p"/> (the caller's reusable packet) ends with the engine's mark and, when
    /// <paramref name="rewritten"/>, with the bytes the kernel must continue with instead of its own
    /// (a verdict with NFQA_PAYLOAD).
    ///
    /// Hook mapping: LOCAL_OUT (and POSTROUTING without an input device) → <see cref="NetfilterEngine.SendLocal"/>;
    /// everything else → <see cref="NetfilterEngine.Receive"/> on the input interface, which runs
    /// PREROUTING and the engine's own routing to INPUT or FORWARD/POSTROUTING. A FORWARD packet's
    /// TTL was already decremented by the kernel, so it is restored first (the engine decrements it
    /// again, as ip_forward does); a PREROUTING packet the engine forwards is handed back with one
    /// more TTL than the engine left, since the kernel's ip_forward still decrements it. Partial
    /// checksums (offload, NFQA_SKB_CSUMNOTREADY) are completed in the copy, so conntrack and
    /// REJECT see the packet as it is on the wire.
    /// Engine verdicts: ACCEPT/DROP as they are; STOLEN (a fragment held for reassembly) is
    /// accepted — the fragment that completes the datagram carries the datagram's verdict; QUEUE
    /// (a rule's own -j NFQUEUE) passes the packet on to that queue. Workers call this concurrently.
    /// Rewrites (NAT, TTL, TOS, TCPMSS...) go back to the kernel, except a new source address of a
    /// packet queued at PREROUTING, which waits for a second pass (<see cref="SourceTickets"/>): a
    /// packet carrying a ticket in its mark at INPUT or POSTROUTING only gets that source and its
    /// mark. Fragments go back as they came (the engine judged the reassembled datagram); a rewrite
    /// of a packet the kernel gave only in part (longer than the copy range) cannot be handed back,
    /// so that packet is dropped.
    /// </summary>
    public uint Decide(in NfQueuePacket q, Packet p, out bool rewritten)
    {
        rewritten = false;
        if (!p.Load(q.Payload) && p.Info.Version is not (4 or 6)) return NfVerdict.Drop;
        if (SourceTickets.IsTicket(q.Mark) && q.Hook is NfHook.LocalIn or NfHook.PostRouting)
            return FinishSource(q, p, out rewritten);
        int checksumAt = CompleteChecksum(q, p);
        p.Mark = q.Mark;
        var source = p.Info.Source;
        // The engine's copy of a fragment may become the reassembled datagram; the kernel keeps the fragment as it is.
        bool fragment = p.Info.IsFragment || (p.Info.Flags & PacketFlags.MoreFragments) != 0;
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
        uint verdict = result.Verdict switch
        {
            Verdict.Accept or Verdict.Stolen => NfVerdict.Accept,
            Verdict.Queue => NfVerdict.ToQueue(result.QueueNumber, result.QueueBypass),
            _ => NfVerdict.Drop,
        };
        if (!fragment && result.Verdict is Verdict.Accept or Verdict.Queue) rewritten = HandBack(q, p, result, source, checksumAt, ref verdict);
        return verdict;
    }

    /// <summary>
    /// Completes an offloaded (CHECKSUM_PARTIAL) transport checksum in the copy; returns where the
    /// checksum field is (it is then the only byte pair that differs from the queued packet), or -1.
    /// </summary>
    private static int CompleteChecksum(in NfQueuePacket q, Packet p)
    {
        if ((q.SkbInfo & NfSkbInfo.ChecksumNotReady) == 0 || q.OriginalLength != q.Payload.Length) return -1;
        if (!Checksum.SetTransport(p.WritableBytes)) return -1;
        return p.Info.TransportOffset + Checksum.TransportChecksumOffset(p.Info.Protocol);
    }

    /// <summary>
    /// Makes <paramref name="p"/> what the kernel continues with after the verdict (see
    /// <see cref="Decide"/>) and says whether it differs from the queued packet.
    /// </summary>
    private bool HandBack(in NfQueuePacket q, Packet p, in PacketResult result, UInt128 source, int checksumAt, ref uint verdict)
    {
        var queued = q.Payload;
        var bytes = p.WritableBytes;
        byte version = p.Info.Version;
        if (bytes.Length < MinHeader(version)) return false;
        bool received = q.Hook == NfHook.PreRouting;
        if (received && result.Hook is Hook.Forward or Hook.PostRouting)
        {
            int ttlAt = version == 4 ? 8 : 7;
            if (bytes.Length > ttlAt && bytes[ttlAt] < 255) PacketRewriter.SetTtl(bytes, (byte)(bytes[ttlAt] + 1));
        }
        var finalSource = SourceOf(bytes, version);
        bool deferSource = received && finalSource != source;
        if (deferSource && !SetSource(bytes, version, source)) deferSource = false;
        // A packet whose only change is its deferred source goes back as it came, but with its ticket.
        bool changed = deferSource || bytes.Length != queued.Length || !SameBytes(bytes, queued, checksumAt);
        if (!changed) return false;
        if (q.OriginalLength != queued.Length || bytes.Length > NfQueue.MaxPayload)
        {
            verdict = NfVerdict.Drop;
            return false;
        }
        if (deferSource) p.Mark = _tickets.Issue(version, p.Info.Protocol, source, DestinationOf(bytes, version), finalSource, p.Mark);
        return true;
    }

    /// <summary>The second pass of a packet whose source waited for the kernel's routing: the final source and the engine's mark.</summary>
    private uint FinishSource(in NfQueuePacket q, Packet p, out bool rewritten)
    {
        rewritten = false;
        CompleteChecksum(q, p);
        var bytes = p.WritableBytes;
        byte version = p.Info.Version;
        if (q.OriginalLength != q.Payload.Length || bytes.Length < MinHeader(version)
            || !_tickets.TryTake(q.Mark, version, p.Info.Protocol, SourceOf(bytes, version), DestinationOf(bytes, version), out var finalSource, out uint mark)
            || !SetSource(bytes, version, finalSource))
            return NfVerdict.Drop;
        p.Mark = mark;
        rewritten = true;
        return NfVerdict.Accept;
    }

    private static int MinHeader(byte version) => version == 4 ? 20 : 40;

    private static UInt128 SourceOf(ReadOnlySpan<byte> ip, byte version) =>
        version == 4 ? BinaryPrimitives.ReadUInt32BigEndian(ip[12..]) : PacketParser.ReadUInt128(ip[8..]);

    private static UInt128 DestinationOf(ReadOnlySpan<byte> ip, byte version) =>
        version == 4 ? BinaryPrimitives.ReadUInt32BigEndian(ip[16..]) : PacketParser.ReadUInt128(ip[24..]);

    private static bool SetSource(Span<byte> ip, byte version, UInt128 address) =>
        version == 4 ? PacketRewriter.SetIpv4Source(ip, (uint)address) : PacketRewriter.SetIpv6Source(ip, address);

    /// <summary>Byte equality, not counting the checksum field at <paramref name="skip"/> (when not -1).</summary>
    private static bool SameBytes(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, int skip)
    {
        if (skip < 0 || skip + 2 > a.Length) return a.SequenceEqual(b);
        return a[..skip].SequenceEqual(b[..skip]) && a[(skip + 2)..].SequenceEqual(b[(skip + 2)..]);
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
