using SharpTables.Packets;
using SharpTables.Rules.Model;
using SharpTables.Engine.Conntrack;
using SharpTables.Rules.Extensions.Conntrack;

namespace SharpTables.Engine;

/// <summary>skb->pkt_type: how the link layer addressed the frame (the pkttype match).</summary>
public enum PacketType : byte { Host = 0, Broadcast = 1, Multicast = 2, OtherHost = 3, Outgoing = 4, Loopback = 5 }

/// <summary>
/// One packet on its way through the hooks: the bytes (starting at the IP header), the parse,
/// and the metadata the kernel keeps in the skb (interfaces, mark, conntrack). One instance is
/// reused for every packet, so the hot path allocates nothing: call <see cref="Load"/> for each.
/// </summary>
public sealed class Packet
{
    public const int MaxLength = 65535 + 64;

    /// <summary>The IP packet; bytes [0, <see cref="Length"/>). NAT and mangle targets rewrite it in place.</summary>
    public byte[] Buffer { get; } = new byte[MaxLength];
    public int Length;
    public PacketInfo Info;

    /// <summary>The link-layer header the packet arrived with (dst MAC, src MAC, ethertype), for LOG's MAC= and the mac match.</summary>
    public byte[] MacHeader { get; } = new byte[14];
    /// <summary>0 when the packet has no link-layer header (locally generated, raw capture).</summary>
    public int MacHeaderLength;

    public Hook Hook;
    public NetInterface? In;
    public NetInterface? Out;
    public PacketType PktType;
    /// <summary>skb->mark (nfmark).</summary>
    public uint Mark;
    /// <summary>Owner of the sending socket (OUTPUT/POSTROUTING of locally generated packets); -1 when none.</summary>
    public int SocketUid = -1;
    public int SocketGid = -1;
    /// <summary>skb->sk is set: the packet was sent by a socket of this host (a user socket, or the kernel's TCP/ICMP control sockets).</summary>
    public bool HasSocket;
    /// <summary>skb->sk is a kernel socket without a file (the per-namespace TCP and ICMP control sockets): -m owner sees a socket but no owner.</summary>
    public bool KernelSocket;
    /// <summary>skb->sk is a request socket (a listener's SYN-ACK): -m owner looks through it to the listener's owner, LOG prints none.</summary>
    public bool RequestSocket;
    /// <summary>Sent through the kernel's ICMP socket (echo and timestamp replies, ICMP errors): while it is sent the socket is locked, so an ICMP error about it (REJECT in OUTPUT) is not sent.</summary>
    public bool IcmpSocket;

    /// <summary>The connection this packet belongs to; null = no conntrack entry (INVALID unless <see cref="Untracked"/>).</summary>
    public Connection? Conn;
    public CtInfo CtInfo;
    /// <summary>The packet is not tracked (NOTRACK / CT --notrack in raw).</summary>
    public bool Untracked;
    /// <summary>Conntrack has looked at this packet already (nf_conntrack_in ran), so later hooks don't redo it.</summary>
    public bool ConntrackDone;
    /// <summary>The raw table's CT target asked for a zone / helper; kept for completeness.</summary>
    public ushort Zone;
    /// <summary>A CT target attached its template (a later CT rule leaves the packet alone).</summary>
    public bool CtTemplate;
    /// <summary>The helper the CT template names, when SharpTables implements it (see <see cref="Conntrack.ConnHelper.Implemented"/>).</summary>
    public string? CtHelper;

    /// <summary>Hooks this packet entered (PREROUTING) or passed (the others), like an observer at priority -500/+500 would see.</summary>
    public HookMask Seen;
    /// <summary>skb->nf_trace: set by the TRACE target (nftables' <c>meta nftrace set 1</c>).</summary>
    public bool Trace;
    /// <summary>The queue an NFQUEUE verdict sends the packet to (valid with <see cref="TargetVerdict.Queue"/>).</summary>
    public ushort QueueNumber;
    /// <summary>NFQUEUE --queue-bypass: accept instead of drop when nobody listens on the queue.</summary>
    public bool QueueBypass;

    /// <summary>Sequence number of this packet in the run (for tracing and events).</summary>
    public long Number;

    /// <summary>Copies <paramref name="ipPacket"/> into the buffer and parses it; resets all metadata.</summary>
    public bool Load(ReadOnlySpan<byte> ipPacket)
    {
        int n = Math.Min(ipPacket.Length, MaxLength);
        ipPacket[..n].CopyTo(Buffer);
        Length = n;
        MacHeaderLength = 0;
        Hook = Hook.PreRouting;
        In = Out = null;
        PktType = PacketType.Host;
        Mark = 0;
        SocketUid = SocketGid = -1;
        HasSocket = false;
        KernelSocket = false;
        RequestSocket = false;
        IcmpSocket = false;
        Conn = null;
        CtInfo = CtInfo.New;
        Untracked = false;
        ConntrackDone = false;
        Zone = 0;
        CtTemplate = false;
        CtHelper = null;
        Seen = HookMask.None;
        Trace = false;
        QueueNumber = 0;
        QueueBypass = false;
        return Reparse();
    }

    /// <summary>Re-reads the headers after the bytes changed (NAT, TTL, TOS rewrites).</summary>
    public bool Reparse() => PacketParser.Parse(Bytes, out Info);

    public ReadOnlySpan<byte> Bytes => Buffer.AsSpan(0, Length);
    /// <summary>The bytes up to the IP header's total length, as the kernel trims the skb on receive (none when that length is unusable).</summary>
    public ReadOnlySpan<byte> IpBytes => Buffer.AsSpan(0, Math.Max(Math.Min(Length, Info.TotalLength), 0));
    public Span<byte> WritableBytes => Buffer.AsSpan(0, Length);

    /// <summary>Sets the link-layer header (14 bytes: destination MAC, source MAC, ethertype).</summary>
    public void SetMacHeader(ReadOnlySpan<byte> header)
    {
        int n = Math.Min(header.Length, MacHeader.Length);
        header[..n].CopyTo(MacHeader);
        MacHeaderLength = n;
    }

    /// <summary>
    /// The XT_CONNTRACK_STATE_* bit the state and conntrack matches see: INVALID (no entry),
    /// UNTRACKED, or XT_CONNTRACK_STATE_BIT(ctinfo), which folds the reply variants onto
    /// ESTABLISHED/RELATED/NEW. The SNAT/DNAT pseudo states are the conntrack match's business.
    /// </summary>
    public ushort StateBit
    {
        get
        {
            if (Untracked) return (ushort)ConntrackStates.Untracked;
            if (Conn == null) return (ushort)ConntrackStates.Invalid;
            return (ushort)(1 << ((int)CtInfo % 3 + 1));
        }
    }
}

/// <summary>enum ip_conntrack_info: how a packet relates to its connection.</summary>
public enum CtInfo : byte
{
    Established = 0,
    Related = 1,
    New = 2,
    EstablishedReply = 3,
    RelatedReply = 4,
}

/// <summary>Helpers on <see cref="CtInfo"/>.</summary>
public static class CtInfoExtensions
{
    /// <summary>
    /// nf_conntrack_attach: a packet the host sends in answer to one with <paramref name="cause"/>
    /// (REJECT's reply, an ICMP error) is RELATED, in the reply direction when the cause went in the original one.
    /// </summary>
    public static CtInfo AnswerInfo(this CtInfo cause) => cause < CtInfo.EstablishedReply ? CtInfo.RelatedReply : CtInfo.Related;
}
