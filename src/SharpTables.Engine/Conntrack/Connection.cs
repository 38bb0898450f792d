using System.Runtime.CompilerServices;
using SharpTables.Packets;

namespace SharpTables.Engine.Conntrack;

/// <summary>
/// A conntrack tuple: one direction of a connection (nf_conntrack_tuple). For TCP/UDP the ports;
/// for ICMP the echo id sits in <see cref="SourcePort"/> and type/code in <see cref="DestinationPort"/>
/// (type in the high byte, code in the low byte), as the kernel keeps them.
/// </summary>
public readonly record struct ConnTuple(byte Version, byte Protocol, UInt128 Source, UInt128 Destination, ushort SourcePort, ushort DestinationPort)
{
    /// <summary>ICMP/ICMPv6 type (the high byte of <see cref="DestinationPort"/>).</summary>
    public byte IcmpType => (byte)(DestinationPort >> 8);

    /// <summary>ICMP/ICMPv6 code (the low byte of <see cref="DestinationPort"/>).</summary>
    public byte IcmpCode => (byte)DestinationPort;

    /// <summary>Whether the protocol keeps an ICMP id/type/code rather than two ports.</summary>
    public bool IsIcmp => Protocol is IpProtocol.Icmp or IpProtocol.Icmpv6;

    /// <summary>
    /// nf_ct_invert_tuple: the tuple of the other direction. ICMP queries map onto their replies
    /// (echo → echo reply, …); returns false for ICMP types that have no reply (the kernel then
    /// cannot track the packet).
    /// </summary>
    public bool TryInvert(out ConnTuple inverse)
    {
        if (IsIcmp)
        {
            int reply = Protocol == IpProtocol.Icmp ? IcmpReplyType(IcmpType) : Icmpv6ReplyType(IcmpType);
            inverse = new ConnTuple(Version, Protocol, Destination, Source, SourcePort, (ushort)((reply << 8) | IcmpCode));
            return reply >= 0;
        }
        inverse = new ConnTuple(Version, Protocol, Destination, Source, DestinationPort, SourcePort);
        return true;
    }

    /// <summary>The inverse tuple (for tuples known to be invertible, e.g. ones already in a connection).</summary>
    public ConnTuple Invert()
    {
        TryInvert(out var inverse);
        return inverse;
    }

    // invmap of nf_conntrack_proto_icmp.c
    private static int IcmpReplyType(byte type) => type switch
    {
        8 => 0, 0 => 8, 13 => 14, 14 => 13, 15 => 16, 16 => 15, 17 => 18, 18 => 17, _ => -1,
    };

    // invmap of nf_conntrack_proto_icmpv6.c
    private static int Icmpv6ReplyType(byte type) => type switch
    {
        128 => 129, 129 => 128, 139 => 140, 140 => 139, _ => -1,
    };
}

/// <summary>IP_CT_DIR_*: which way a packet travels relative to the connection's first packet.</summary>
public enum ConnDirection : byte { Original = 0, Reply = 1 }

/// <summary>IPS_* status bits of a conntrack entry.</summary>
[Flags]
public enum ConnStatus : uint
{
    None = 0,
    Expected = 1 << 0,
    SeenReply = 1 << 1,
    Assured = 1 << 2,
    Confirmed = 1 << 3,
    SrcNat = 1 << 4,
    DstNat = 1 << 5,
    SrcNatDone = 1 << 7,
    DstNatDone = 1 << 8,
    Dying = 1 << 9,
    FixedTimeout = 1 << 10,
    Untracked = 1 << 12,
    /// <summary>IPS_NAT_MASK.</summary>
    NatMask = SrcNat | DstNat,
    /// <summary>IPS_NAT_DONE_MASK.</summary>
    NatDoneMask = SrcNatDone | DstNatDone,
}

/// <summary>The TCP conntrack states (enum tcp_conntrack), in the kernel's order.</summary>
public enum TcpConntrackState : byte
{
    None = 0, SynSent, SynRecv, Established, FinWait, CloseWait, LastAck, TimeWait, Close, SynSent2,
}

/// <summary>IP_CT_TCP_FLAG_* bits kept per direction, and IP_CT_EXP_CHALLENGE_ACK / simultaneous open in last_flags.</summary>
[Flags]
public enum TcpPeerFlags : byte
{
    None = 0,
    WindowScale = 0x01,
    SackPerm = 0x02,
    CloseInit = 0x04,
    BeLiberal = 0x08,
    DataUnacknowledged = 0x10,
    MaxAckSet = 0x20,
    ChallengeAck = 0x40,
    SimultaneousOpen = 0x80,
}

/// <summary>One side's view of a TCP connection (struct ip_ct_tcp_state): the window tracking data.</summary>
public struct TcpPeer
{
    /// <summary>td_end: highest sequence number + length seen from this side.</summary>
    public uint End;
    /// <summary>td_maxend: highest acceptable end (the peer's ack + window).</summary>
    public uint MaxEnd;
    /// <summary>td_maxwin: largest window this side advertised.</summary>
    public uint MaxWin;
    /// <summary>td_maxack: highest ack this side sent.</summary>
    public uint MaxAck;
    /// <summary>td_scale: window scale factor.</summary>
    public byte Scale;
    public TcpPeerFlags Flags;
}

/// <summary>The two <see cref="TcpPeer"/>s of a connection, indexed by <see cref="ConnDirection"/>.</summary>
[InlineArray(2)]
public struct TcpPeers
{
    private TcpPeer _first;
}

/// <summary>
/// One tracked connection (struct nf_conn). The original tuple is the direction of the first
/// packet; the reply tuple is what replies look like after NAT.
/// </summary>
public sealed class Connection
{
    public ConnTuple Original;
    public ConnTuple Reply;
    public ConnStatus Status;
    /// <summary>ctmark (CONNMARK / connmark match).</summary>
    public uint Mark;
    /// <summary>Jiffies (32-bit) when the entry expires; while unconfirmed, the timeout relative to confirmation.</summary>
    public uint Timeout;
    public TcpConntrackState TcpState;
    /// <summary>Set when the entry is removed from the table (connlimit's lists check this).</summary>
    public bool Dead;
    /// <summary>Protocol-private state for trackers outside this assembly; the built-in trackers keep theirs in typed fields.</summary>
    public object? ProtocolState;
    /// <summary>Zone (CT --zone).</summary>
    public ushort Zone;

    /// <summary>TCP window tracking (ct->proto.tcp.seen[2]).</summary>
    public TcpPeers TcpSeen;
    /// <summary>ct->proto.tcp.last_*: the last packet the tracker looked at, for retransmission and resync checks.</summary>
    public ConnDirection TcpLastDir;
    public byte TcpLastIndex;
    public uint TcpLastSeq;
    public uint TcpLastAck;
    public uint TcpLastEnd;
    public ushort TcpLastWin;
    public byte TcpLastWscale;
    public TcpPeerFlags TcpLastFlags;
    /// <summary>ct->proto.tcp.retrans: identical ACKs in a row.</summary>
    public byte TcpRetrans;
    /// <summary>ct->proto.udp.stream_ts: jiffies after which two-way UDP traffic counts as a stream.</summary>
    public uint UdpStreamTimestamp;
    /// <summary>Index of the interface MASQUERADE picked (nat->masq_index), 0 when none.</summary>
    public int MasqueradeIndex;
    /// <summary>The conntrack helper attached to this connection (CT --helper), or null.</summary>
    public ConnHelper? Helper;
    /// <summary>The connection whose helper expected this one (ct->master; <see cref="ConnStatus.Expected"/> is set).</summary>
    public Connection? Master;

    // Table bookkeeping: insertion-ordered list of confirmed entries and the NAT by-source chain.
    internal Connection? ListPrev, ListNext;
    internal Connection? BySourceNext;
    internal bool InBySource;

    public bool Has(ConnStatus s) => (Status & s) == s;

    /// <summary>Sets status bits atomically (set_bit): packets of the connection may run on several threads. Bits already set cost nothing.</summary>
    public void SetStatus(ConnStatus bits)
    {
        if ((Status & bits) != bits) Interlocked.Or(ref Unsafe.As<ConnStatus, uint>(ref Status), (uint)bits);
    }

    private int _tracking;

    /// <summary>
    /// Takes ct->lock, a spinlock as in the kernel: held while the TCP tracker reads and updates
    /// the window tracking and state of the entry, so packets of one connection on two threads
    /// are tracked one after the other. Held for a few hundred nanoseconds at most.
    /// </summary>
    internal void EnterTracking()
    {
        if (Interlocked.CompareExchange(ref _tracking, 1, 0) == 0) return;
        var spin = new SpinWait();
        do spin.SpinOnce();
        while (Volatile.Read(ref _tracking) != 0 || Interlocked.CompareExchange(ref _tracking, 1, 0) != 0);
    }

    /// <summary>Releases ct->lock.</summary>
    internal void ExitTracking() => Volatile.Write(ref _tracking, 0);

    /// <summary>Clears every field so the object can carry a new connection (the table pools entries that were never confirmed).</summary>
    internal void Reset()
    {
        Original = default;
        Reply = default;
        Status = ConnStatus.None;
        Mark = 0;
        Timeout = 0;
        TcpState = TcpConntrackState.None;
        Dead = false;
        ProtocolState = null;
        Zone = 0;
        TcpSeen = default;
        TcpLastDir = default;
        TcpLastIndex = 0;
        TcpLastSeq = TcpLastAck = TcpLastEnd = 0;
        TcpLastWin = 0;
        TcpLastWscale = 0;
        TcpLastFlags = default;
        TcpRetrans = 0;
        UdpStreamTimestamp = 0;
        MasqueradeIndex = 0;
        Helper = null;
        Master = null;
        ListPrev = ListNext = BySourceNext = null;
        InBySource = false;
    }

    /// <summary>The tuple of one direction (ct->tuplehash[dir].tuple).</summary>
    public ref ConnTuple Tuple(ConnDirection dir) => ref dir == ConnDirection.Original ? ref Original : ref Reply;

    /// <summary>The layer-4 protocol number.</summary>
    public byte Protocol => Original.Protocol;
}
