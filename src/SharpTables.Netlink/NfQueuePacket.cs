using System.Buffers.Binary;

namespace SharpTables.Netlink;

/// <summary>Verdict codes (linux/netfilter.h NF_*), plus the NF_QUEUE encoding with a queue number.</summary>
public static class NfVerdict
{
    public const uint Drop = 0, Accept = 1, Stolen = 2, Queue = 3, Repeat = 4;
    /// <summary>NF_VERDICT_FLAG_QUEUE_BYPASS: with <see cref="Queue"/>, accept when nobody listens on the queue.</summary>
    public const uint QueueBypassFlag = 0x8000;

    /// <summary>NF_QUEUE_NR(n): send the packet on to queue <paramref name="queue"/> (another program's).</summary>
    public static uint ToQueue(ushort queue, bool bypass) => Queue | ((uint)queue << 16) | (bypass ? QueueBypassFlag : 0);
}

/// <summary>The netfilter hook a queued packet was taken from (NF_INET_*).</summary>
public enum NfHook : byte { PreRouting = 0, LocalIn = 1, Forward = 2, LocalOut = 3, PostRouting = 4 }

/// <summary>NFQA_SKB_INFO bits.</summary>
[Flags]
public enum NfSkbInfo : uint
{
    None = 0,
    /// <summary>CHECKSUM_PARTIAL: the transport checksum is not computed yet (offload); the packet is fine.</summary>
    ChecksumNotReady = 1,
    /// <summary>A GSO packet, larger than the device MTU (only with <see cref="NfQueueFlags.Gso"/>).</summary>
    Gso = 2,
    /// <summary>Nobody verified the checksum yet (CHECKSUM_NONE).</summary>
    ChecksumNotVerified = 4,
}

/// <summary>
/// One NFQNL_MSG_PACKET, parsed in place: every span points into the queue's receive buffer and
/// is valid until the next receive. Interface indexes are 0 when absent, Uid/Gid -1.
/// </summary>
public readonly ref struct NfQueuePacket
{
    /// <summary>The kernel's id for the verdict.</summary>
    public uint Id { get; init; }
    /// <summary>The queue (res_id of the message).</summary>
    public ushort Queue { get; init; }
    /// <summary>The protocol family (AF_INET = 2, AF_INET6 = 10).</summary>
    public byte Family { get; init; }
    /// <summary>skb->protocol, the ethertype (0x0800 IPv4, 0x86dd IPv6).</summary>
    public ushort HwProtocol { get; init; }
    public NfHook Hook { get; init; }
    public uint Mark { get; init; }
    public int InIfIndex { get; init; }
    public int OutIfIndex { get; init; }
    public int PhysInIfIndex { get; init; }
    public int PhysOutIfIndex { get; init; }
    /// <summary>The link-layer source address (empty when the kernel gave none).</summary>
    public ReadOnlySpan<byte> HwAddress { get; init; }
    /// <summary>The packet from its network header, up to the copy range.</summary>
    public ReadOnlySpan<byte> Payload { get; init; }
    /// <summary>The packet's full length when <see cref="Payload"/> was cut at the copy range (NFQA_CAP_LEN), else the payload's length.</summary>
    public int OriginalLength { get; init; }
    public NfSkbInfo SkbInfo { get; init; }
    /// <summary>Owner of the local socket (with <see cref="NfQueueFlags.UidGid"/>), -1 when none.</summary>
    public int Uid { get; init; }
    public int Gid { get; init; }

    /// <summary>Parses the body (after the netlink header) of an NFQNL_MSG_PACKET. False when it lacks the packet header.</summary>
    public static bool TryParse(ReadOnlySpan<byte> body, out NfQueuePacket packet)
    {
        packet = default;
        if (body.Length < Nl.NfGenLength) return false;
        byte family = body[0];
        ushort queue = BinaryPrimitives.ReadUInt16BigEndian(body[2..]);
        uint id = 0, mark = 0;
        ushort proto = 0;
        byte hook = 0;
        bool haveHeader = false;
        int indev = 0, outdev = 0, physin = 0, physout = 0, uid = -1, gid = -1, capLen = -1;
        uint skbInfo = 0;
        ReadOnlySpan<byte> hw = default, payload = default;
        var attrs = new NetlinkAttributeReader(body[Nl.NfGenLength..]);
        while (attrs.TryRead(out ushort type, out _, out var a))
        {
            switch (type)
            {
                case NfqAttr.PacketHeader when a.Length >= 7:
                    id = BinaryPrimitives.ReadUInt32BigEndian(a);
                    proto = BinaryPrimitives.ReadUInt16BigEndian(a[4..]);
                    hook = a[6];
                    haveHeader = true;
                    break;
                case NfqAttr.Mark when a.Length >= 4: mark = BinaryPrimitives.ReadUInt32BigEndian(a); break;
                case NfqAttr.InDev when a.Length >= 4: indev = (int)BinaryPrimitives.ReadUInt32BigEndian(a); break;
                case NfqAttr.OutDev when a.Length >= 4: outdev = (int)BinaryPrimitives.ReadUInt32BigEndian(a); break;
                case NfqAttr.PhysInDev when a.Length >= 4: physin = (int)BinaryPrimitives.ReadUInt32BigEndian(a); break;
                case NfqAttr.PhysOutDev when a.Length >= 4: physout = (int)BinaryPrimitives.ReadUInt32BigEndian(a); break;
                case NfqAttr.HwAddr when a.Length >= 4:
                    // struct nfqnl_msg_packet_hw { be16 hw_addrlen; u16 pad; u8 hw_addr[8]; }
                    int n = Math.Min(BinaryPrimitives.ReadUInt16BigEndian(a), Math.Min(8, a.Length - 4));
                    hw = a.Slice(4, n);
                    break;
                case NfqAttr.Payload: payload = a; break;
                case NfqAttr.CapLen when a.Length >= 4: capLen = (int)BinaryPrimitives.ReadUInt32BigEndian(a); break;
                case NfqAttr.SkbInfo when a.Length >= 4: skbInfo = BinaryPrimitives.ReadUInt32BigEndian(a); break;
                case NfqAttr.Uid when a.Length >= 4: uid = (int)BinaryPrimitives.ReadUInt32BigEndian(a); break;
                case NfqAttr.Gid when a.Length >= 4: gid = (int)BinaryPrimitives.ReadUInt32BigEndian(a); break;
            }
        }
        if (!haveHeader) return false;
        packet = new NfQueuePacket
        {
            Id = id, Queue = queue, Family = family, HwProtocol = proto, Hook = (NfHook)hook, Mark = mark,
            InIfIndex = indev, OutIfIndex = outdev, PhysInIfIndex = physin, PhysOutIfIndex = physout,
            HwAddress = hw, Payload = payload, OriginalLength = capLen >= 0 ? capLen : payload.Length,
            SkbInfo = (NfSkbInfo)skbInfo, Uid = uid, Gid = gid,
        };
        return true;
    }
}

/// <summary>NFQA_* attribute types (enum nfqnl_attr_type, enum nfqnl_attr_config).</summary>
public static class NfqAttr
{
    public const ushort PacketHeader = 1, VerdictHeader = 2, Mark = 3, Timestamp = 4, InDev = 5, OutDev = 6,
        PhysInDev = 7, PhysOutDev = 8, HwAddr = 9, Payload = 10, Ct = 11, CtInfo = 12, CapLen = 13, SkbInfo = 14,
        Exp = 15, Uid = 16, Gid = 17, SecCtx = 18, Vlan = 19, L2Header = 20, Priority = 21;

    public const ushort CfgCmd = 1, CfgParams = 2, CfgQueueMaxLen = 3, CfgMask = 4, CfgFlags = 5;
}
