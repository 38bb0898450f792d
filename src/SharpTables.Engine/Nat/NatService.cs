using SharpTables.Engine.Conntrack;
using SharpTables.Packets;
using SharpTables.Rules.Extensions.Nat;
using SharpTables.Rules.Model;

namespace SharpTables.Engine.Nat;

/// <summary>
/// NAT bindings (nf_nat_core.c, nf_nat_proto.c). The walker, where the nat table sits on a hook,
/// asks <see cref="NeedsChain"/>: only the first packet of a connection traverses the nat chains,
/// whose targets call <see cref="SetupInfo"/> (SNAT/DNAT), <see cref="Masquerade"/> or
/// <see cref="Redirect"/>; then <see cref="Complete"/> sets a null binding if no target did and
/// rewrites the packet for this hook (including ICMP errors related to a NATed connection).
/// Port choice on clashes follows nf_nat_l4proto_unique_tuple with a seeded pseudo-random
/// generator in place of get_random_u16, so runs are reproducible.
/// </summary>
public sealed class NatService(EngineState state)
{
    private const int MaxAttempts = 128, HarderThreshold = MaxAttempts / 4;
    private uint _random = 0x9e3779b9;

    public EngineState State { get; } = state;

    /// <summary>Seed of the generator standing in for get_random_u16 (port search offsets, --random).</summary>
    public uint RandomSeed
    {
        set => _random = value == 0 ? 1 : value;
    }

    /// <summary>HOOK2MANIP: PREROUTING and OUTPUT rewrite the destination, POSTROUTING and INPUT the source.</summary>
    public static NatManip ManipFor(Hook hook) => hook is Hook.PostRouting or Hook.Input ? NatManip.Source : NatManip.Destination;

    /// <summary>nf_nat_initialized: whether the connection already has its binding of this kind.</summary>
    public static bool Initialized(Connection ct, NatManip manip) =>
        ct.Has(manip == NatManip.Source ? ConnStatus.SrcNatDone : ConnStatus.DstNatDone);

    /// <summary>True when the packet is the first of its connection for this manip type (so the nat chain must run).</summary>
    public bool NeedsChain(Packet p, Hook hook)
    {
        var ct = p.Conn;
        if (ct == null || p.Untracked || IsRelatedIcmp(p)) return false;
        return p.CtInfo is CtInfo.New or CtInfo.Related or CtInfo.RelatedReply && !Initialized(ct, ManipFor(hook));
    }

    /// <summary>
    /// After the nat chain ran (or was skipped): a null binding if none was set, then the packet is
    /// rewritten per the binding (nf_nat_ipv4_fn / nf_nat_inet_fn / nf_nat_packet). False = drop
    /// (an ICMP error that cannot be translated, or a masqueraded connection whose output interface changed).
    /// </summary>
    public bool Complete(Packet p, Hook hook)
    {
        var ct = p.Conn;
        if (ct == null || p.Untracked) return true;
        var manip = ManipFor(hook);
        if (IsRelatedIcmp(p))
        {
            bool ok = NatPacket.IcmpReplyTranslation(p, ct, manip, State.Conntrack.Options.Checksum && hook is Hook.PreRouting or Hook.Input);
            p.Reparse();
            return ok;
        }

        if (p.CtInfo is CtInfo.New or CtInfo.Related or CtInfo.RelatedReply && !Initialized(ct, manip))
        {
            // __nf_nat_alloc_null_binding: keep the address the reply tuple already implies, let the port be made unique.
            var ip = manip == NatManip.Source ? ct.Reply.Destination : ct.Reply.Source;
            if (SetupInfo(ct, new NatRangeSpec(NatRangeFlags.MapIps, ip, ip, 0, 0, 0), manip) != TargetVerdict.Accept) return false;
        }
        else if (OutInterfaceChanged(p, ct, hook))
        {
            State.Conntrack.Kill(ct);
            return false;
        }

        var dir = p.CtInfo >= CtInfo.EstablishedReply ? ConnDirection.Reply : ConnDirection.Original;
        var statusBit = manip == NatManip.Source ? ConnStatus.SrcNat : ConnStatus.DstNat;
        if (dir == ConnDirection.Reply) statusBit ^= ConnStatus.NatMask;
        if ((ct.Status & statusBit) == 0) return true;

        // nf_nat_manip_pkt: look like the inverse of the other direction.
        var target = (dir == ConnDirection.Original ? ct.Reply : ct.Original).Invert();
        int len = Math.Min(p.Length, p.Info.TotalLength);
        bool done = NatPacket.Manip(p.Buffer.AsSpan(0, len), 0, target, manip);
        p.Reparse();
        return done;
    }

    /// <summary>nf_nat_oif_changed: a masqueraded connection must keep leaving through the interface it was masqueraded on.</summary>
    private static bool OutInterfaceChanged(Packet p, Connection ct, Hook hook) =>
        ct.MasqueradeIndex != 0 && hook == Hook.PostRouting && p.CtInfo < CtInfo.EstablishedReply
        && p.Out != null && p.Out.Index != ct.MasqueradeIndex;

    private static bool IsRelatedIcmp(Packet p) =>
        p.CtInfo is CtInfo.Related or CtInfo.RelatedReply
        && (p.Info.Version == 4 ? p.Info.Protocol == IpProtocol.Icmp : p.Info.Protocol == IpProtocol.Icmpv6);

    /// <summary>
    /// nf_nat_setup_info: binds a not yet confirmed connection to a unique tuple within
    /// <paramref name="range"/> (what SNAT and DNAT do). The reply tuple changes so replies are
    /// recognised; SRC_NAT/DST_NAT mark that packets must be rewritten. The search for a free tuple
    /// runs under the conntrack table's lock, so it sees the table (and the by-source index) still;
    /// two new connections choosing the same tuple at once are told apart at confirmation, as in the kernel.
    /// </summary>
    public TargetVerdict SetupInfo(Connection ct, in NatRangeSpec range, NatManip manip)
    {
        if (ct.Has(ConnStatus.Confirmed)) return TargetVerdict.Accept;
        if (Initialized(ct, manip)) return TargetVerdict.Drop;
        var current = ct.Reply.Invert();
        ConnTuple chosen;
        lock (State.Conntrack.SyncRoot) chosen = UniqueTuple(current, range, ct, manip);
        if (chosen != current)
        {
            ct.Reply = chosen.Invert();
            ct.SetStatus(manip == NatManip.Source ? ConnStatus.SrcNat : ConnStatus.DstNat);
        }
        ct.SetStatus(manip == NatManip.Source ? ConnStatus.SrcNatDone : ConnStatus.DstNatDone);
        return TargetVerdict.Accept;
    }

    /// <summary>
    /// nf_nat_masquerade_ipv4/ipv6: source NAT to the address the out interface would use for the
    /// destination (see <see cref="SelectAddress"/>).
    /// </summary>
    public TargetVerdict Masquerade(Packet p, in NatRangeSpec range)
    {
        var ct = p.Conn;
        if (ct == null) return TargetVerdict.Accept;
        if (ct.Original.Version == 4 && ct.Original.Source == 0) return TargetVerdict.Accept; // 0.0.0.0: not for masquerading
        var address = SelectAddress(p.Out, ct.Original.Version, p.Info.Destination);
        if (address == null) return TargetVerdict.Drop; // "ate my IP address"
        ct.MasqueradeIndex = p.Out!.Index;
        var r = range with { Flags = range.Flags | NatRangeFlags.MapIps, MinAddress = address.Value, MaxAddress = address.Value };
        return SetupInfo(ct, r, NatManip.Source);
    }

    /// <summary>nf_nat_redirect_ipv4/ipv6: destination NAT to the host itself (loopback for OUTPUT, else the in interface's first address).</summary>
    public TargetVerdict Redirect(Packet p, in NatRangeSpec range)
    {
        var ct = p.Conn;
        if (ct == null) return TargetVerdict.Accept;
        UInt128 address;
        if (p.Hook == Hook.Output) address = ct.Original.Version == 4 ? 0x7f000001 : UInt128.One;
        else
        {
            var a = State.Network.PrimaryAddress(p.In, ct.Original.Version);
            if (a == null) return TargetVerdict.Drop;
            address = a.Value;
        }
        var r = range with { Flags = range.Flags | NatRangeFlags.MapIps, MinAddress = address, MaxAddress = address };
        return SetupInfo(ct, r, NatManip.Destination);
    }

    /// <summary>
    /// inet_select_addr(out, nexthop, RT_SCOPE_UNIVERSE): among the out interface's addresses of
    /// global scope, the first whose subnet holds the destination, else the first. Loopback
    /// addresses have host scope and never qualify, so a packet masqueraded out of lo takes the
    /// first global address of any interface, in interface order (lo, then eth0, ...). IPv6 takes
    /// the same shape, an approximation of ipv6_dev_get_saddr for the host's few addresses.
    /// </summary>
    private UInt128? SelectAddress(NetInterface? iface, byte version, UInt128 destination)
    {
        if (iface == null) return null;
        if (SelectOn(iface, version, destination) is { } a) return a;
        foreach (var other in State.Network.Interfaces)
            if (SelectOn(other, version, null) is { } b) return b;
        return null;
    }

    private static UInt128? SelectOn(NetInterface iface, byte version, UInt128? destination)
    {
        var list = version == 4 ? iface.IPv4 : iface.IPv6;
        int bits = version == 4 ? 32 : 128;
        UInt128? first = null;
        foreach (var (a, prefix) in list)
        {
            if (HostScope(version, a)) continue;
            if (destination is not { } d || prefix <= 0) return a;
            UInt128 all = version == 4 ? uint.MaxValue : UInt128.MaxValue;
            UInt128 mask = (all << (bits - prefix)) & all;
            if ((a & mask) == (d & mask)) return a;
            first ??= a;
        }
        return first;
    }

    /// <summary>127.0.0.0/8 and ::1: addresses of host scope.</summary>
    private static bool HostScope(byte version, UInt128 a) => version == 4 ? Ipv4.IsLoopback((uint)a) : a == UInt128.One;

    /// <summary>get_unique_tuple.</summary>
    private ConnTuple UniqueTuple(in ConnTuple orig, in NatRangeSpec range, Connection ct, NatManip manip)
    {
        var conntrack = State.Conntrack;
        if (manip == NatManip.Source && !range.Has(NatRangeSpec.RandomAll))
        {
            // 1) keep the source if it is in range, or reuse this source's current mapping
            if (InRange(orig, range))
            {
                if (!UsedTupleNew(orig, ct)) return orig;
            }
            else if (FindAppropriateSource(orig, range, ct.Zone, out var mapped))
            {
                if (!UsedTuple(mapped, ct)) return mapped;
            }
        }

        // 2) the address by hash, 3) a port that makes the tuple unique
        var tuple = orig;
        FindBestIps(ref tuple, range, ct.Zone, manip);
        if (!range.Has(NatRangeSpec.RandomAll))
        {
            if (range.Has(NatRangeFlags.ProtoSpecified))
            {
                if (!range.Has(NatRangeFlags.ProtoOffset) && L4InRange(tuple, manip, range.MinPort, range.MaxPort)
                    && (range.MinPort == range.MaxPort || !UsedTuple(tuple, ct)))
                    return tuple;
            }
            else if (!UsedTuple(tuple, ct))
            {
                return tuple;
            }
        }
        L4UniqueTuple(ref tuple, range, manip, ct, conntrack);
        return tuple;
    }

    /// <summary>nf_nat_used_tuple: another entry would expect the same replies.</summary>
    private bool UsedTuple(in ConnTuple tuple, Connection ignored) => State.Conntrack.TupleTaken(tuple.Invert(), ignored);

    /// <summary>nf_nat_used_tuple_new: as <see cref="UsedTuple"/>, but an un-NATed UDP flow seen from both ends at once is not a clash.</summary>
    private bool UsedTupleNew(in ConnTuple tuple, Connection ignored)
    {
        if (!UsedTuple(tuple, ignored)) return false;
        if (ignored.Protocol is not (IpProtocol.Udp or IpProtocol.UdpLite)) return true;
        if ((ignored.Status & ConnStatus.NatMask) != 0) return true;
        var conntrack = State.Conntrack;
        var other = conntrack.Find(tuple, ignored.Zone, out var dir);
        if (other == null)
        {
            other = conntrack.Find(tuple.Invert(), ignored.Zone, out dir);
            if (other == null) return false;
        }
        if (dir != ConnDirection.Reply || (other.Status & ConnStatus.NatMask) != 0) return true;
        return !(other.Original == ignored.Reply && other.Reply == ignored.Original);
    }

    /// <summary>nf_in_range: the tuple's source fits the range.</summary>
    private static bool InRange(in ConnTuple t, in NatRangeSpec range)
    {
        if (range.Has(NatRangeFlags.MapIps) && (t.Source < range.MinAddress || t.Source > range.MaxAddress)) return false;
        if (!range.Has(NatRangeFlags.ProtoSpecified)) return true;
        return L4InRange(t, NatManip.Source, range.MinPort, range.MaxPort);
    }

    /// <summary>l4proto_in_range: the ICMP id, or the port NAT would change, lies within [min, max].</summary>
    private static bool L4InRange(in ConnTuple t, NatManip manip, ushort min, ushort max)
    {
        switch (t.Protocol)
        {
            case IpProtocol.Icmp:
            case IpProtocol.Icmpv6:
                return t.SourcePort >= min && t.SourcePort <= max;
            case IpProtocol.Tcp:
            case IpProtocol.Udp:
            case IpProtocol.UdpLite:
            case IpProtocol.Sctp:
            case IpProtocol.Gre:
                ushort port = manip == NatManip.Source ? t.SourcePort : t.DestinationPort;
                return port >= min && port <= max;
            default:
                return true;
        }
    }

    /// <summary>find_appropriate_src: reuse the mapping an existing connection from the same source got.</summary>
    private bool FindAppropriateSource(in ConnTuple tuple, in NatRangeSpec range, ushort zone, out ConnTuple result)
    {
        for (var c = State.Conntrack.FirstBySource(tuple, zone); c != null; c = c.BySourceNext)
        {
            var o = c.Original;
            if (o.Protocol != tuple.Protocol || o.Source != tuple.Source || o.SourcePort != tuple.SourcePort || c.Dead) continue;
            var inv = c.Reply.Invert();
            result = inv with { Destination = tuple.Destination, DestinationPort = tuple.DestinationPort };
            if (InRange(result, range)) return true;
        }
        result = default;
        return false;
    }

    /// <summary>
    /// find_best_ips_proto: the address within the range comes from jhash2 over the source address
    /// (seeded with the destination unless --persistent), so a client always gets the same one.
    /// </summary>
    private static void FindBestIps(ref ConnTuple tuple, in NatRangeSpec range, ushort zone, NatManip manip)
    {
        if (!range.Has(NatRangeFlags.MapIps)) return;
        bool src = manip == NatManip.Source;
        if (range.MinAddress == range.MaxAddress)
        {
            tuple = src ? tuple with { Source = range.MinAddress } : tuple with { Destination = range.MinAddress };
            return;
        }
        bool v4 = tuple.Version == 4;
        int max = v4 ? 0 : 3;
        Span<uint> key = stackalloc uint[4];
        Words(tuple.Source, v4, key);
        Span<uint> dst = stackalloc uint[4];
        Words(tuple.Destination, v4, dst);
        Span<uint> lo = stackalloc uint[4];
        Words(range.MinAddress, v4, lo);
        Span<uint> hi = stackalloc uint[4];
        Words(range.MaxAddress, v4, hi);
        bool persistent = range.Has(NatRangeFlags.Persistent);
        uint j = JHash2(key, persistent ? 0 : Raw(dst[max]) ^ zone);
        Span<uint> result = stackalloc uint[4];
        bool fullRange = false;
        for (int i = 0; i <= max; i++)
        {
            uint minip, dist;
            if (!fullRange)
            {
                minip = lo[i];
                dist = unchecked(hi[i] - minip + 1);
            }
            else
            {
                minip = 0;
                dist = uint.MaxValue;
            }
            result[i] = unchecked(minip + (uint)(((ulong)j * dist) >> 32));
            if (result[i] != hi[i]) fullRange = true;
            if (!persistent) j ^= Raw(dst[i]);
        }
        UInt128 address = v4 ? result[0] : ((UInt128)result[0] << 96) | ((UInt128)result[1] << 64) | ((UInt128)result[2] << 32) | result[3];
        tuple = src ? tuple with { Source = address } : tuple with { Destination = address };
    }

    /// <summary>The address as the kernel's u32 words in host order (IPv4: one word, then zeros).</summary>
    private static void Words(UInt128 a, bool v4, Span<uint> w)
    {
        if (v4)
        {
            w[0] = (uint)a;
            w[1] = w[2] = w[3] = 0;
            return;
        }
        for (int i = 0; i < 4; i++) w[i] = (uint)(a >> (96 - 32 * i));
    }

    /// <summary>A network-order word as a little-endian CPU reads it from memory (what jhash2 and the XORs see).</summary>
    private static uint Raw(uint hostOrder) => System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(hostOrder);

    /// <summary>jhash2 (lookup3) over the four words of an nf_inet_addr.</summary>
    internal static uint JHash2(ReadOnlySpan<uint> hostWords, uint initval)
    {
        uint a, b, c;
        a = b = c = unchecked(0xdeadbeef + (4u << 2) + initval);
        a += Raw(hostWords[0]);
        b += Raw(hostWords[1]);
        c += Raw(hostWords[2]);
        unchecked
        {
            a -= c; a ^= uint.RotateLeft(c, 4); c += b;
            b -= a; b ^= uint.RotateLeft(a, 6); a += c;
            c -= b; c ^= uint.RotateLeft(b, 8); b += a;
            a -= c; a ^= uint.RotateLeft(c, 16); c += b;
            b -= a; b ^= uint.RotateLeft(a, 19); a += c;
            c -= b; c ^= uint.RotateLeft(b, 4); b += a;
            a += Raw(hostWords[3]);
            c ^= b; c -= uint.RotateLeft(b, 14);
            a ^= c; a -= uint.RotateLeft(c, 11);
            b ^= a; b -= uint.RotateLeft(a, 25);
            c ^= b; c -= uint.RotateLeft(b, 16);
            a ^= c; a -= uint.RotateLeft(c, 4);
            b ^= a; b -= uint.RotateLeft(a, 14);
            c ^= b; c -= uint.RotateLeft(b, 24);
        }
        return c;
    }

    /// <summary>
    /// nf_nat_l4proto_unique_tuple: search the port (ICMP id) range from an offset — random for
    /// source NAT and --random, the port's distance from the base for shifted maps, else 0 — for a
    /// tuple no other entry uses; after 128 tries, retry from a new offset with half as many.
    /// </summary>
    private void L4UniqueTuple(ref ConnTuple tuple, in NatRangeSpec range, NatManip manip, Connection ct, ConntrackTable conntrack)
    {
        bool src = manip == NatManip.Source;
        uint min, rangeSize;
        ushort current;
        bool icmp = tuple.IsIcmp;
        switch (tuple.Protocol)
        {
            case IpProtocol.Icmp:
            case IpProtocol.Icmpv6:
                current = tuple.SourcePort;
                if (!range.Has(NatRangeFlags.ProtoSpecified)) { min = 0; rangeSize = 65536; }
                else { min = range.MinPort; rangeSize = (uint)(range.MaxPort - range.MinPort + 1); }
                break;
            case IpProtocol.Udp:
            case IpProtocol.UdpLite:
            case IpProtocol.Tcp:
            case IpProtocol.Sctp:
                current = src ? tuple.SourcePort : tuple.DestinationPort;
                if (!range.Has(NatRangeFlags.ProtoSpecified))
                {
                    if (!src) return; // a destination port is never changed unasked
                    if (current < 1024)
                    {
                        if (current < 512) { min = 1; rangeSize = 511; }
                        else { min = 600; rangeSize = 1023 - 600 + 1; }
                    }
                    else { min = 1024; rangeSize = 65535 - 1024 + 1; }
                }
                else
                {
                    uint lo = range.MinPort, hi = range.MaxPort;
                    if (hi < lo) (lo, hi) = (hi, lo);
                    min = lo;
                    rangeSize = hi - lo + 1;
                }
                break;
            default:
                return;
        }

        ushort off;
        if (range.Has(NatRangeFlags.ProtoOffset)) off = unchecked((ushort)(current - range.BasePort));
        else if (range.Has(NatRangeSpec.RandomAll) || src) off = NextRandom16();
        else off = 0;

        uint attempts = Math.Min(rangeSize, MaxAttempts);
        while (true)
        {
            for (uint i = 0; i < attempts; i++, off++)
            {
                ushort key = (ushort)(min + off % rangeSize);
                if (icmp) tuple = tuple with { SourcePort = key };
                else tuple = src ? tuple with { SourcePort = key } : tuple with { DestinationPort = key };
                if (!UsedTupleHarder(tuple, ct, attempts - i, conntrack)) return;
            }
            if (attempts >= rangeSize || attempts < 16) return;
            attempts /= 2;
            off = NextRandom16();
        }
    }

    /// <summary>
    /// nf_nat_used_tuple_harder: in the last tries for a TCP SYN, a clashing source-NATed entry in
    /// TIME_WAIT or later whose sequence numbers the new connection has passed is evicted.
    /// </summary>
    private bool UsedTupleHarder(in ConnTuple tuple, Connection ct, uint attemptsLeft, ConntrackTable conntrack)
    {
        if (attemptsLeft > HarderThreshold || tuple.Protocol != IpProtocol.Tcp || ct.TcpState != TcpConntrackState.SynSent)
            return UsedTuple(tuple, ct);
        var other = conntrack.Find(tuple.Invert(), ct.Zone, out var dir);
        if (other == null) return false;
        if (dir == ConnDirection.Original || other == ct) return true;
        if (other.TcpState < TcpConntrackState.TimeWait || (other.Status & (ConnStatus.FixedTimeout | ConnStatus.Dying)) != 0
            || !other.Has(ConnStatus.SrcNat))
            return true;
        if ((int)(ct.TcpSeen[0].End - other.TcpSeen[0].End) <= 0) return true;
        conntrack.Kill(other);
        return false;
    }

    /// <summary>The stand-in for get_random_u16 (xorshift32); called under the conntrack table's lock.</summary>
    private ushort NextRandom16()
    {
        uint x = _random;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        _random = x;
        return (ushort)(x >> 16);
    }
}
