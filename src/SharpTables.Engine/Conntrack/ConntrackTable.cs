using System.Buffers.Binary;
using System.Collections.Concurrent;
using SharpTables.Packets;
using SharpTables.Rules.Model;

namespace SharpTables.Engine.Conntrack;

/// <summary>Conntrack settings (the nf_conntrack sysctls that matter here).</summary>
public sealed class ConntrackOptions
{
    /// <summary>nf_conntrack_max: entries before early drop / refusing new ones.</summary>
    public int Max { get; init; } = 262144;
    /// <summary>nf_conntrack_tcp_loose: pick up established connections mid-stream.</summary>
    public bool TcpLoose { get; init; } = true;
    /// <summary>nf_conntrack_tcp_be_liberal.</summary>
    public bool TcpBeLiberal { get; init; }
    /// <summary>nf_conntrack_tcp_max_retrans: identical ACKs before the shorter RETRANS timeout applies.</summary>
    public int TcpMaxRetrans { get; init; } = 3;
    /// <summary>nf_conntrack_tcp_ignore_invalid_rst.</summary>
    public bool TcpIgnoreInvalidRst { get; init; }
    /// <summary>
    /// nf_conntrack_checksum: verify TCP/UDP/ICMP checksums of received packets (PREROUTING) and
    /// treat bad ones as INVALID. Turn it off for captures whose checksums were offloaded.
    /// </summary>
    public bool Checksum { get; init; } = true;
    /// <summary>IPv4 and IPv6 fragments waiting for reassembly (ipfrag_time 30 s, ip6frag_time 60 s); at most this many datagrams at once.</summary>
    public int MaxFragmentQueues { get; init; } = 64;
}

/// <summary>
/// The connection tracking table (nf_conntrack_core.c). The walker calls <see cref="Defrag"/>
/// before the raw table, <see cref="In"/> at PREROUTING/OUTPUT (priority -200, after raw) and
/// <see cref="Confirm"/> at the end of INPUT/POSTROUTING for accepted packets. Expired entries
/// are removed lazily (when a lookup meets them, and before listing) using the injected clock.
/// The packet path allocates only the <see cref="Connection"/> of a new flow.
/// Safe for concurrent packets, like the kernel's RCU lookups and locked updates: lookups take
/// no lock; inserting and removing entries, the insertion-ordered list and the NAT by-source
/// index are guarded by one short lock; TCP window tracking runs under the entry's own lock
/// (ct->lock); unconfirmed entries are pooled per thread. Lock order: an entry's lock, then the table's.
/// </summary>
public sealed class ConntrackTable
{
    private readonly record struct Key(ConnTuple Tuple, ushort Zone);

    private readonly Lock _lock = new();
    private readonly ConcurrentDictionary<Key, Connection> _hash = new();
    private readonly Dictionary<Key, Connection> _bySource = new();
    private readonly Defragmenter _defrag;
    private Connection? _head, _tail;
    private int _count;

    public ConntrackTable(EngineClock clock, ConntrackOptions options)
    {
        Clock = clock;
        Options = options;
        _defrag = new Defragmenter(options.MaxFragmentQueues);
    }

    public EngineClock Clock { get; }
    public ConntrackOptions Options { get; }

    /// <summary>
    /// nf_defrag_ipv4 / nf_defrag_ipv6 (priority -400, only while conntrack is in use): a fragment
    /// is held until its datagram is complete. Returns false when the packet was held (stolen:
    /// nothing more happens to it); true for an unfragmented packet, or when this fragment
    /// completed the datagram, in which case <paramref name="p"/> now holds the reassembled packet.
    /// Overlapping fragments discard the whole datagram; incomplete ones expire after 30 s (IPv4) / 60 s (IPv6).
    /// </summary>
    public bool Defrag(Packet p) => _defrag.Process(p, Clock.Jiffies32);

    private const int PoolSize = 1024;
    /// <summary>Each thread's pool of entries that were never confirmed (no lock: only their packet ever saw them).</summary>
    private readonly ThreadLocal<Stack<Connection>> _free = new(static () => new Stack<Connection>(PoolSize));

    /// <summary>
    /// The packet's life is over: an entry it created that was never confirmed (the packet was
    /// dropped) is freed, as the kernel frees it with the skb, and reused for a later new flow
    /// on the same thread, so dropped new flows cost no allocation.
    /// </summary>
    public void Release(Packet p)
    {
        var c = p.Conn;
        p.Conn = null;
        Release(c);
    }

    /// <summary>Returns an entry that was never confirmed to the calling thread's pool (confirmed ones live on in the table).</summary>
    public void Release(Connection? c)
    {
        if (c == null || c.Has(ConnStatus.Confirmed) || c.InBySource) return;
        Recycle(c);
    }

    /// <summary>Returns an entry that never made it into the table to the calling thread's pool.</summary>
    private void Recycle(Connection c)
    {
        var free = _free.Value!;
        if (free.Count >= PoolSize) return;
        c.Reset();
        free.Push(c);
    }

    /// <summary>The table's lock, for NAT's search of a free tuple (which must see the table standing still).</summary>
    internal Lock SyncRoot => _lock;

    /// <summary>
    /// nf_conntrack_in: finds or creates the entry and sets p.Conn/p.CtInfo (p.Conn stays null when
    /// the packet is INVALID). Returns false only when the kernel drops the packet (table full).
    /// </summary>
    public bool In(Packet p)
    {
        if (p.Untracked || p.ConntrackDone) return true;
        p.ConntrackDone = true;
        p.Conn = null;
        p.CtInfo = CtInfo.New;
        uint now = Clock.Jiffies32;
        ref readonly var info = ref p.Info;

        var packet = p.IpBytes;
        if (!L4Offset(packet, info, out int dataoff, out byte protonum)) return true;

        bool verify = Options.Checksum && p.Hook == Hook.PreRouting;
        if ((protonum == IpProtocol.Icmp && info.Version == 4) || (protonum == IpProtocol.Icmpv6 && info.Version == 6))
        {
            var r = IcmpError(p, packet, dataoff, protonum, verify, now);
            if (r != IcmpResult.Track) return true;
        }

        repeat:
        if (!GetTuple(packet, info.Version, dataoff, protonum, out var tuple)) return true;
        var conn = Find(tuple, p.Zone, now, out var dir);
        bool fresh = conn == null;
        if (conn == null)
        {
            if (!tuple.TryInvert(out var reply)) return true;
            if (!MakeRoom()) return false; // "nf_conntrack: table full, dropping packet"
            conn = _free.Value!.TryPop(out var pooled) ? pooled : new Connection();
            conn.Original = tuple;
            conn.Reply = reply;
            conn.Zone = p.Zone;
            dir = ConnDirection.Original;
            // init_conntrack: an expected connection is RELATED to its master and gets no helper of
            // its own; any other one gets the template's helper.
            if (Volatile.Read(ref _expectCount) > 0 && TakeExpectation(tuple, p.Zone, now) is { } master)
            {
                conn.Master = master;
                conn.SetStatus(ConnStatus.Expected);
            }
            else if (p.CtHelper != null)
            {
                conn.Helper = new ConnHelper(p.CtHelper);
            }
        }

        CtInfo ctinfo;
        if (dir == ConnDirection.Reply) ctinfo = CtInfo.EstablishedReply;
        else if (conn.Has(ConnStatus.SeenReply)) ctinfo = CtInfo.Established;
        else if (conn.Has(ConnStatus.Expected)) ctinfo = CtInfo.Related;
        else ctinfo = CtInfo.New;

        var verdict = TrackPacket(conn, packet, info, dataoff, protonum, ctinfo, verify, now);
        if (verdict == TrackVerdict.Repeat)
        {
            Kill(conn);
            goto repeat;
        }
        if (verdict == TrackVerdict.Invalid)
        {
            if (fresh) Recycle(conn);
            return true;
        }

        p.Conn = conn;
        p.CtInfo = ctinfo;
        if (ctinfo == CtInfo.EstablishedReply) conn.SetStatus(ConnStatus.SeenReply);
        return true;
    }

    /// <summary>
    /// nf_conntrack_confirm: puts a packet's new entry into the table (an entry whose first packet
    /// is dropped never gets there). Returns false when the kernel drops the packet (the tuple
    /// was taken meanwhile and the clash cannot be resolved).
    /// </summary>
    public bool Confirm(Packet p)
    {
        var ct = p.Conn;
        if (ct == null || p.Untracked || ct.Has(ConnStatus.Confirmed)) return true;
        if (p.CtInfo >= CtInfo.EstablishedReply) return true;
        uint now = Clock.Jiffies32;
        lock (_lock) return ConfirmLocked(p, ct, now);
    }

    private bool ConfirmLocked(Packet p, Connection ct, uint now)
    {
        if (ct.Dead) return false;
        var clash = Find(ct.Original, ct.Zone, now, out _) ?? Find(ct.Reply, ct.Zone, now, out _);
        if (clash != null)
        {
            // nf_ct_resolve_clash: UDP may join the entry that won the race.
            bool allowClash = ct.Protocol is IpProtocol.Udp or IpProtocol.UdpLite;
            if (allowClash && !clash.Has(ConnStatus.Dying)
                && ((clash.Status & ConnStatus.NatDoneMask) == 0 || (clash.Original == ct.Original && clash.Reply == ct.Reply)))
            {
                p.Conn = clash;
                return true;
            }
            return false;
        }

        ct.Timeout = unchecked(ct.Timeout + now);
        // Confirmed before lookups can find it: a packet that finds an entry must never recycle it (see Release).
        ct.SetStatus(ConnStatus.Confirmed);
        _hash[new Key(ct.Original, ct.Zone)] = ct;
        _hash.TryAdd(new Key(ct.Reply, ct.Zone), ct);
        if (_tail == null) _head = _tail = ct;
        else
        {
            _tail.ListNext = ct;
            ct.ListPrev = _tail;
            _tail = ct;
        }
        _count++;
        if (ct.Has(ConnStatus.SrcNatDone)) AddBySource(ct);
        return true;
    }

    /// <summary>Entries in the table (expired ones are collected first).</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                CollectLocked();
                return _count;
            }
        }
    }

    /// <summary>The confirmed entries, oldest first, after removing expired ones (a snapshot: packets may change the table meanwhile).</summary>
    public IEnumerable<Connection> Entries
    {
        get
        {
            lock (_lock)
            {
                CollectLocked();
                var list = new List<Connection>(_count);
                for (var c = _head; c != null; c = c.ListNext) list.Add(c);
                return list;
            }
        }
    }

    /// <summary>Seconds until the entry expires, as /proc/net/nf_conntrack prints it.</summary>
    public long SecondsLeft(Connection ct) => Expires(ct, Clock.Jiffies32) / EngineClock.Hz;

    /// <summary>nf_conntrack_find_get: the live entry with this tuple in either direction.</summary>
    public Connection? Find(in ConnTuple tuple, ushort zone, out ConnDirection dir) => Find(tuple, zone, Clock.Jiffies32, out dir);

    /// <summary>
    /// nf_ct_set_closing (Linux 6.8, backported to 6.1): REJECT --reject-with tcp-reset switches the
    /// confirmed TCP entry of the packet it answers to CLOSE, with CLOSE's 10 s timeout, because the
    /// RST it sends carries that entry and so never passes conntrack itself. Unconfirmed entries,
    /// other protocols and fixed timeouts are left alone, and an entry in CLOSE keeps its timeout.
    /// </summary>
    public void SetClosing(Connection? ct)
    {
        if (ct is null || ct.Protocol != IpProtocol.Tcp || !ct.Has(ConnStatus.Confirmed)) return;
        ct.EnterTracking();
        try
        {
            var old = ct.TcpState;
            ct.TcpState = TcpConntrackState.Close;
            if (old == TcpConntrackState.Close || ct.Has(ConnStatus.FixedTimeout)) return;
            ct.Timeout = unchecked(TcpTracker.Timeouts[(int)TcpConntrackState.Close] + Clock.Jiffies32);
        }
        finally
        {
            ct.ExitTracking();
        }
    }

    // ---- expectations (nf_conntrack_expect) -------------------------------------------------

    private readonly List<Expectation> _expectations = [];
    private int _expectCount;

    /// <summary>
    /// nf_confirm's helper call: the connection's helper reads the packet before it is confirmed, at
    /// the end of INPUT or POSTROUTING. False when the helper drops it.
    /// </summary>
    public bool Help(Packet p)
    {
        // Only the FTP helper is ever attached (ConnHelper.Implemented); an untracked packet has no entry.
        if (p.Conn is not { Helper: { } helper } ct || p.CtInfo == CtInfo.RelatedReply) return true;
        return FtpHelper.Help(this, ct, helper, p.IpBytes, p.Info, p.CtInfo);
    }

    /// <summary>
    /// nf_ct_expect_related: adds an expectation of <paramref name="master"/>. The same one again
    /// replaces it; one clashing with another connection's is refused (false: the helper drops
    /// the packet); over <paramref name="maxExpected"/> the master's oldest goes.
    /// </summary>
    internal bool AddExpectation(Connection master, ConnTuple tuple, int maxExpected, uint timeout)
    {
        var helper = master.Helper!;
        uint now = Clock.Jiffies32;
        lock (_lock)
        {
            PruneExpectationsLocked(now);
            for (int i = 0; i < _expectations.Count; i++)
            {
                var e = _expectations[i];
                if (e.Master.Zone != master.Zone || !ExpectationsOverlap(e.Tuple, tuple)) continue;
                if (e.Tuple != tuple || e.Master != master) return false; // -EALREADY / -EBUSY
                RemoveExpectationLocked(i);
                break;
            }
            if (helper.Expecting >= maxExpected)
            {
                int oldest = _expectations.FindIndex(e => e.Master == master);
                if (oldest >= 0) RemoveExpectationLocked(oldest);
            }
            _expectations.Add(new Expectation { Tuple = tuple, Master = master, Expires = unchecked(now + timeout) });
            helper.Expecting++;
            Volatile.Write(ref _expectCount, _expectations.Count);
            return true;
        }
    }

    /// <summary>nf_ct_find_expectation: the master of the expectation a new connection's tuple meets, which it consumes.</summary>
    private Connection? TakeExpectation(in ConnTuple tuple, ushort zone, uint now)
    {
        lock (_lock)
        {
            PruneExpectationsLocked(now);
            for (int i = 0; i < _expectations.Count; i++)
            {
                var e = _expectations[i];
                if (e.Master.Zone != zone || !e.Master.Has(ConnStatus.Confirmed) || !Expects(e.Tuple, tuple)) continue;
                RemoveExpectationLocked(i);
                return e.Master;
            }
            return null;
        }
    }

    /// <summary>The expectation's tuple with its mask: every field but the source port.</summary>
    private static bool Expects(in ConnTuple e, in ConnTuple t) =>
        e.Version == t.Version && e.Protocol == t.Protocol && e.Source == t.Source && e.Destination == t.Destination
        && e.DestinationPort == t.DestinationPort && (e.SourcePort == 0 || e.SourcePort == t.SourcePort);

    /// <summary>expect_matches / expect_clash: two expectations one connection could meet both.</summary>
    private static bool ExpectationsOverlap(in ConnTuple a, in ConnTuple b) =>
        a.Version == b.Version && a.Protocol == b.Protocol && a.Source == b.Source && a.Destination == b.Destination
        && a.DestinationPort == b.DestinationPort && (a.SourcePort == 0 || b.SourcePort == 0 || a.SourcePort == b.SourcePort);

    /// <summary>Drops expectations that timed out or whose master is gone (nf_ct_remove_expectations).</summary>
    private void PruneExpectationsLocked(uint now)
    {
        for (int i = _expectations.Count - 1; i >= 0; i--)
        {
            var e = _expectations[i];
            if ((int)(e.Expires - now) <= 0 || e.Master.Dead || IsExpired(e.Master, now) && e.Master.Has(ConnStatus.Confirmed))
                RemoveExpectationLocked(i);
        }
    }

    private void RemoveExpectationLocked(int index)
    {
        var e = _expectations[index];
        _expectations.RemoveAt(index);
        if (e.Master.Helper is { } h) h.Expecting--;
        Volatile.Write(ref _expectCount, _expectations.Count);
    }

    /// <summary>nf_ct_delete: removes an entry now (it stays attached to packets that hold it, marked dead).</summary>
    public void Kill(Connection ct)
    {
        lock (_lock) KillLocked(ct);
    }

    private void KillLocked(Connection ct)
    {
        if (ct.Dead) return; // removed already (by another packet, or the GC)
        ct.SetStatus(ConnStatus.Dying);
        ct.Dead = true;
        if (!ct.Has(ConnStatus.Confirmed)) return;
        var k = new Key(ct.Original, ct.Zone);
        _hash.TryRemove(new KeyValuePair<Key, Connection>(k, ct));
        _hash.TryRemove(new KeyValuePair<Key, Connection>(new Key(ct.Reply, ct.Zone), ct));
        if (ct.ListPrev != null) ct.ListPrev.ListNext = ct.ListNext; else if (_head == ct) _head = ct.ListNext;
        if (ct.ListNext != null) ct.ListNext.ListPrev = ct.ListPrev; else if (_tail == ct) _tail = ct.ListPrev;
        ct.ListPrev = ct.ListNext = null;
        _count--;
        RemoveBySource(ct);
    }

    /// <summary>Empties the table (conntrack -F), expectations included.</summary>
    public void Flush()
    {
        lock (_lock)
        {
            while (_head != null) KillLocked(_head);
            PruneExpectationsLocked(Clock.Jiffies32);
        }
    }

    /// <summary>Removes every expired entry (what the kernel's GC worker does in the background).</summary>
    public void Collect()
    {
        lock (_lock) CollectLocked();
    }

    private void CollectLocked()
    {
        uint now = Clock.Jiffies32;
        for (var c = _head; c != null;)
        {
            var next = c.ListNext;
            if (IsExpired(c, now)) KillLocked(c);
            c = next;
        }
    }

    /// <summary>The lines of /proc/net/nf_conntrack, in the kernel's format (one per entry, without the newline).</summary>
    public IEnumerable<string> ProcLines()
    {
        foreach (var c in Entries) yield return ConntrackProc.Format(c, SecondsLeft(c));
    }

    /// <summary>Writes /proc/net/nf_conntrack.</summary>
    public void Dump(TextWriter writer)
    {
        foreach (var line in ProcLines()) writer.Write(line + "\n");
    }

    /// <summary>
    /// nf_conntrack_tuple_taken: whether a confirmed entry other than <paramref name="ignored"/> uses
    /// this tuple in either direction (an entry for the very same original tuple does not count).
    /// </summary>
    public bool TupleTaken(in ConnTuple tuple, Connection ignored)
    {
        var other = Find(tuple, ignored.Zone, Clock.Jiffies32, out _);
        if (other == null || other == ignored) return false;
        return !(other.Original == ignored.Original && other.Zone == ignored.Zone);
    }

    /// <summary>The NAT by-source index (nf_nat_bysource): confirmed source-NATed entries with this original source. Call under <see cref="SyncRoot"/>.</summary>
    internal Connection? FirstBySource(in ConnTuple original, ushort zone) =>
        _bySource.GetValueOrDefault(new Key(SourceKey(original), zone));

    private static ConnTuple SourceKey(in ConnTuple t) => new(t.Version, t.Protocol, t.Source, 0, t.SourcePort, 0);

    private void AddBySource(Connection ct)
    {
        var k = new Key(SourceKey(ct.Original), ct.Zone);
        ct.BySourceNext = _bySource.GetValueOrDefault(k);
        _bySource[k] = ct;
        ct.InBySource = true;
    }

    private void RemoveBySource(Connection ct)
    {
        if (!ct.InBySource) return;
        ct.InBySource = false;
        var k = new Key(SourceKey(ct.Original), ct.Zone);
        var first = _bySource.GetValueOrDefault(k);
        if (first == ct)
        {
            if (ct.BySourceNext == null) _bySource.Remove(k); else _bySource[k] = ct.BySourceNext;
        }
        else
        {
            for (var c = first; c != null; c = c.BySourceNext)
                if (c.BySourceNext == ct) { c.BySourceNext = ct.BySourceNext; break; }
        }
        ct.BySourceNext = null;
    }

    internal static bool IsExpired(Connection ct, uint now) => (int)(ct.Timeout - now) <= 0;

    /// <summary>nf_ct_expires: jiffies left (0 when expired).</summary>
    internal static uint Expires(Connection ct, uint now)
    {
        int left = (int)(ct.Timeout - now);
        return left > 0 ? (uint)left : 0;
    }

    /// <summary>nf_ct_refresh: the entry lives <paramref name="extra"/> more jiffies (relative until it is confirmed).</summary>
    internal static void Refresh(Connection ct, uint extra, uint now)
    {
        if (ct.Has(ConnStatus.FixedTimeout)) return;
        ct.Timeout = ct.Has(ConnStatus.Confirmed) ? unchecked(extra + now) : extra;
    }

    /// <summary>The lookup, without the table's lock (an entry removed meanwhile may still be returned, marked dead, as with RCU).</summary>
    private Connection? Find(in ConnTuple tuple, ushort zone, uint now, out ConnDirection dir)
    {
        dir = ConnDirection.Original;
        if (!_hash.TryGetValue(new Key(tuple, zone), out var ct)) return null;
        if (IsExpired(ct, now))
        {
            Kill(ct);
            return null;
        }
        dir = ct.Reply == tuple ? ConnDirection.Reply : ConnDirection.Original;
        return ct;
    }

    /// <summary>
    /// Room for one more entry (__nf_conntrack_alloc). Over nf_conntrack_max the kernel evicts a
    /// non-assured entry near the new one's hash bucket; here expired entries are collected and
    /// then the oldest non-assured entry goes. False when nothing can be evicted. Only confirmed
    /// entries count, so new flows on several threads at once may take the table a few entries
    /// (at most one per thread) past the limit.
    /// </summary>
    private bool MakeRoom()
    {
        if (Options.Max <= 0 || Volatile.Read(ref _count) + 1 <= Options.Max) return true;
        lock (_lock)
        {
            CollectLocked();
            if (_count + 1 <= Options.Max) return true;
            for (var c = _head; c != null; c = c.ListNext)
            {
                if (c.Has(ConnStatus.Assured)) continue;
                KillLocked(c);
                return true;
            }
            return false;
        }
    }

    /// <summary>
    /// nf_ct_get_tuplepr: the tuple of a packet as it travels (not inverted), false when none can be
    /// built (a non-first fragment, a broken or truncated header). What connlimit counts a packet by
    /// when conntrack has not seen it yet.
    /// </summary>
    public static bool TryGetTuple(Packet p, out ConnTuple tuple)
    {
        tuple = default;
        var packet = p.IpBytes;
        return L4Offset(packet, p.Info, out int dataoff, out byte protonum) && GetTuple(packet, p.Info.Version, dataoff, protonum, out tuple);
    }

    /// <summary>get_l4proto: where the transport header starts; false for non-first fragments and broken headers.</summary>
    private static bool L4Offset(ReadOnlySpan<byte> packet, in PacketInfo info, out int dataoff, out byte protonum)
    {
        dataoff = 0;
        protonum = info.Protocol;
        if (info.Version == 4)
        {
            if ((info.Flags & PacketFlags.BadNetworkHeader) != 0 || info.FragmentOffset != 0) return false;
            dataoff = info.HeaderLength;
            return dataoff <= packet.Length;
        }
        if (info.Version == 6)
        {
            if ((info.Flags & (PacketFlags.Fragment | PacketFlags.BadNetworkHeader)) != 0 || info.TransportOffset < 0) return false;
            dataoff = info.TransportOffset;
            return dataoff <= packet.Length;
        }
        return false;
    }

    /// <summary>nf_ct_get_tuple: addresses, then ports (TCP, UDP, UDP-Lite, SCTP), ICMP id/type/code, or GRE keys.</summary>
    private static bool GetTuple(ReadOnlySpan<byte> packet, byte version, int dataoff, byte protonum, out ConnTuple tuple)
    {
        UInt128 src, dst;
        if (version == 4)
        {
            src = BinaryPrimitives.ReadUInt32BigEndian(packet[12..]);
            dst = BinaryPrimitives.ReadUInt32BigEndian(packet[16..]);
        }
        else
        {
            src = PacketParser.ReadUInt128(packet[8..]);
            dst = PacketParser.ReadUInt128(packet[24..]);
        }
        tuple = new ConnTuple(version, protonum, src, dst, 0, 0);
        var t = packet[dataoff..];
        switch (protonum)
        {
            case IpProtocol.Icmp:
            case IpProtocol.Icmpv6:
                if (t.Length < 8) return false;
                tuple = tuple with { SourcePort = BinaryPrimitives.ReadUInt16BigEndian(t[4..]), DestinationPort = (ushort)(t[0] << 8 | t[1]) };
                return true;
            case IpProtocol.Tcp:
            case IpProtocol.Udp:
            case IpProtocol.UdpLite:
            case IpProtocol.Sctp:
                if (t.Length < 4) return false;
                tuple = tuple with { SourcePort = BinaryPrimitives.ReadUInt16BigEndian(t), DestinationPort = BinaryPrimitives.ReadUInt16BigEndian(t[2..]) };
                return true;
            case IpProtocol.Gre:
                // gre_pkt_to_tuple: only PPTP (version 1) has keys: the call id is the destination key
                if (t.Length < 4 || (t[1] & 7) != 1) return true;
                if (t.Length < 8) return false;
                tuple = tuple with { DestinationPort = BinaryPrimitives.ReadUInt16BigEndian(t[6..]) };
                return true;
            default:
                return true;
        }
    }

    /// <summary>nf_conntrack_handle_packet: the protocol tracker's verdict.</summary>
    private TrackVerdict TrackPacket(Connection ct, ReadOnlySpan<byte> packet, in PacketInfo info, int dataoff, byte protonum,
        CtInfo ctinfo, bool verify, uint now)
    {
        switch (protonum)
        {
            case IpProtocol.Tcp:
                if (TcpTracker.Error(packet, dataoff, verify, info)) return TrackVerdict.Invalid;
                // Only a confirmed entry can be seen by other packets; a new one is this packet's alone.
                if (!ct.Has(ConnStatus.Confirmed)) return TcpTracker.Packet(this, ct, packet, dataoff, ctinfo, now);
                ct.EnterTracking();
                try
                {
                    return TcpTracker.Packet(this, ct, packet, dataoff, ctinfo, now);
                }
                finally
                {
                    ct.ExitTracking();
                }
            case IpProtocol.Udp:
            case IpProtocol.UdpLite:
                bool lite = protonum == IpProtocol.UdpLite;
                if (ProtocolTrackers.UdpError(packet, dataoff, lite, verify, info)) return TrackVerdict.Invalid;
                ProtocolTrackers.UdpPacket(ct, now, lite);
                return TrackVerdict.Accept;
            case IpProtocol.Icmp:
                return ProtocolTrackers.IcmpPacket(ct, info.Version, now) ? TrackVerdict.Accept : TrackVerdict.Invalid;
            case IpProtocol.Icmpv6:
                return ProtocolTrackers.Icmpv6Packet(ct, info.Version, now) ? TrackVerdict.Accept : TrackVerdict.Invalid;
            case IpProtocol.Gre:
                ProtocolTrackers.GrePacket(ct, now);
                return TrackVerdict.Accept;
            case IpProtocol.Sctp:
                if (ProtocolTrackers.SctpInvalid(packet, dataoff, verify, isNew: !ct.Has(ConnStatus.Confirmed))) return TrackVerdict.Invalid;
                // No association state machine: a valid packet keeps the entry for the CLOSED-state timeout.
                Refresh(ct, ProtocolTrackers.SctpClosed, now);
                return TrackVerdict.Accept;
            default:
                Refresh(ct, ProtocolTrackers.GenericTimeout, now);
                return TrackVerdict.Accept;
        }
    }

    private enum IcmpResult : byte { Track, Done }

    /// <summary>
    /// nf_conntrack_icmpv4_error / nf_conntrack_icmpv6_error: an ICMP error quoting a packet of a
    /// known connection is RELATED to it; other errors, unknown types and bad checksums are
    /// INVALID; neighbour discovery and MLD are UNTRACKED. Queries go on to normal tracking.
    /// </summary>
    private IcmpResult IcmpError(Packet p, ReadOnlySpan<byte> packet, int dataoff, byte protonum, bool verify, uint now)
    {
        var t = packet[dataoff..];
        if (t.Length < 8) return IcmpResult.Done;
        byte type = t[0];
        ref readonly var info = ref p.Info;
        if (verify && !Checksum.TransportValid(packet, dataoff, protonum, info)) return IcmpResult.Done;
        if (protonum == IpProtocol.Icmp)
        {
            if (type > 18) return IcmpResult.Done;
            if (!ProtocolTrackers.IsIcmpError(type)) return IcmpResult.Track;
        }
        else
        {
            if (ProtocolTrackers.IsIcmpv6Untracked(type))
            {
                p.Untracked = true;
                return IcmpResult.Done;
            }
            if (type == 137) return Icmpv6Redirect(p, packet, dataoff, now);
            if (type >= 128) return IcmpResult.Track;
        }
        InetError(p, packet, dataoff + 8, now);
        return IcmpResult.Done;
    }

    /// <summary>nf_conntrack_icmpv6_redirect: a redirect carrying the redirected header is related like an error.</summary>
    private IcmpResult Icmpv6Redirect(Packet p, ReadOnlySpan<byte> packet, int dataoff, uint now)
    {
        // struct rd_msg: icmp6hdr (8) + target (16) + destination (16)
        if (packet.Length - dataoff < 40) return IcmpResult.Done;
        if (packet[dataoff + 1] != 0) return IcmpResult.Track;
        bool linkLocal = (p.Info.Source >> 118) == 0x3fa; // fe80::/10
        if (p.Info.Ttl != 255 || !linkLocal) return IcmpResult.Done;
        int off = dataoff + 40;
        if (packet.Length - off < 8 || packet[off + 1] == 0) return IcmpResult.Done;
        if (packet[off] != 4) return IcmpResult.Track; // ND_OPT_REDIRECT_HDR
        InetError(p, packet, off + 8, now);
        return IcmpResult.Done;
    }

    /// <summary>nf_conntrack_inet_error: look up the inverse of the quoted packet's tuple.</summary>
    private void InetError(Packet p, ReadOnlySpan<byte> packet, int inner, uint now)
    {
        var quoted = packet[inner..];
        if (!InnerTuple(quoted, p.Info.Version, out var origTuple)) return;
        if (!origTuple.TryInvert(out var innerTuple)) return;
        var ct = Find(innerTuple, p.Zone, now, out var dir);
        if (ct == null) return;
        // the error must be addressed to where that direction's packets go
        if (ct.Tuple(dir).Destination != p.Info.Destination) return;
        p.Conn = ct;
        p.CtInfo = dir == ConnDirection.Reply ? CtInfo.RelatedReply : CtInfo.Related;
    }

    /// <summary>nf_ct_get_tuplepr on the quoted header (which may be cut after 8 bytes of transport header).</summary>
    private static bool InnerTuple(ReadOnlySpan<byte> quoted, byte version, out ConnTuple tuple)
    {
        tuple = default;
        if (version == 4)
        {
            if (quoted.Length < 20 || quoted[0] >> 4 != 4) return false;
            if ((BinaryPrimitives.ReadUInt16BigEndian(quoted[6..]) & 0x1fff) != 0) return false;
            int ihl = (quoted[0] & 0x0f) * 4;
            if (ihl > quoted.Length) return false;
            return GetTuple(quoted, 4, ihl, quoted[9], out tuple);
        }
        if (quoted.Length < 40) return false;
        PacketParser.Parse(quoted, out var info);
        if (info.Version != 6 || (info.Flags & PacketFlags.Fragment) != 0 || info.TransportOffset < 0) return false;
        return GetTuple(quoted, 6, info.TransportOffset, info.Protocol, out tuple);
    }
}
