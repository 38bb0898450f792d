using System.Buffers.Binary;
using SharpTables.Engine.Output;
using SharpTables.Packets;

namespace SharpTables.Engine.Targets;

/// <summary>
/// The IPv4 answers of REJECT, built as net/ipv4/netfilter/nf_reject_ipv4.c (nf_send_reset,
/// nf_send_unreach) and net/ipv4/icmp.c (__icmp_send) build them, into a caller's buffer. Every
/// method returns the reply's length, or 0 when the kernel sends nothing. Allocation free.
/// </summary>
public static partial class RejectReplies
{
    /// <summary>net.ipv4.ip_default_ttl, the hop limit of both answers (no route sets another).</summary>
    public const byte DefaultTtl = 64;

    /// <summary>The most an ICMP error may occupy (RFC 1812: 576 bytes; __icmp_send's room).</summary>
    public const int IcmpErrorMax = 576;

    /// <summary>INADDR_DUMMY (192.0.0.8), the source when the host has no address to answer from.</summary>
    private const uint DummyAddress = 0xC0000008;

    /// <summary>
    /// nf_send_reset: a RST answering a TCP segment, from its destination to its source. No answer
    /// to a fragment other than the first, to a RST, to one addressed to a broadcast or multicast
    /// address, or when no route leads back. Checksums are not verified: the kernel trusts what
    /// veth and offloading NICs mark CHECKSUM_UNNECESSARY. The RST has
    /// TOS 0, ID 0, DF set and TTL 64; with the offending ACK bit set it carries seq = its ack
    /// number, else ack = seq + SYN + FIN + payload length and the ACK flag.
    /// </summary>
    public static int TcpReset(Packet p, HostNetwork network, Span<byte> reply)
    {
        ReadOnlySpan<byte> b = p.Bytes;
        int len = KernelView.SkbLength(p);
        if (!p.Info.IsIPv4 || len < 20 || reply.Length < 40) return 0;
        int ihl = (b[0] & 0x0f) * 4;
        if ((BinaryPrimitives.ReadUInt16BigEndian(b[6..]) & 0x1fff) != 0) return 0;
        if (b[9] != IpProtocol.Tcp || ihl + 20 > len) return 0;
        var th = b[ihl..];
        byte flags = th[13];
        if ((flags & TcpFlagBits.Rst) != 0) return 0;
        uint src = BinaryPrimitives.ReadUInt32BigEndian(b[12..]);
        uint dst = BinaryPrimitives.ReadUInt32BigEndian(b[16..]);
        if (IsBroadcastOrMulticast(network, dst)) return 0;
        if (network.Route(4, src) == null) return 0;

        WriteIPv4Header(reply, totalLength: 40, tos: 0, id: 0, dontFragment: true, IpProtocol.Tcp, saddr: dst, daddr: src);
        var t = reply.Slice(20, 20);
        t.Clear();
        th[2..4].CopyTo(t);            // source port = their destination port
        th[..2].CopyTo(t[2..]);        // destination port = their source port
        t[12] = 5 << 4;
        if ((flags & TcpFlagBits.Ack) != 0)
        {
            th.Slice(8, 4).CopyTo(t[4..]); // seq = their ack
            t[13] = TcpFlagBits.Rst;
        }
        else
        {
            uint payload = unchecked((uint)(len - ihl - (th[12] >> 4) * 4));
            uint ack = unchecked(BinaryPrimitives.ReadUInt32BigEndian(th[4..]) + (uint)(flags & TcpFlagBits.Syn) / TcpFlagBits.Syn
                                 + (uint)(flags & TcpFlagBits.Fin) + payload);
            BinaryPrimitives.WriteUInt32BigEndian(t[8..], ack);
            t[13] = TcpFlagBits.Rst | TcpFlagBits.Ack;
        }
        BinaryPrimitives.WriteUInt16BigEndian(t[16..], Fold(PseudoHeaderSum(dst, src, IpProtocol.Tcp, 20) + Sum(t)));
        return 40;
    }

    /// <summary>
    /// nf_send_unreach + __icmp_send: ICMP destination unreachable with <paramref name="code"/>,
    /// quoting the packet from its IP header on, as much as fits in 576 bytes. Nothing for a
    /// fragment other than the first, for one not addressed to this host at the link layer or addressed to a broadcast or multicast address, for an
    /// ICMP error (or an unknown ICMP type), when no route leads back, or when the rate limits say
    /// no. TOS is the packet's TOS bits with precedence "internetwork control" (0xC0), TTL 64, no DF.
    /// The source is the packet's destination when that is a local address, else the address of
    /// the interface the answer leaves through (icmp_errors_use_inbound_ifaddr = 0).
    /// </summary>
    public static int Unreachable(Packet p, byte code, HostNetwork network, IcmpRateLimiter limiter, Span<byte> reply)
    {
        ReadOnlySpan<byte> b = p.Bytes;
        int len = KernelView.SkbLength(p);
        if (!p.Info.IsIPv4 || len < 20) return 0;
        if ((BinaryPrimitives.ReadUInt16BigEndian(b[6..]) & 0x1fff) != 0) return 0;
        // nf_reject_verify_csum only looks at packets whose checksum nobody checked (CHECKSUM_NONE).
        // What the oracle's veth links deliver is CHECKSUM_UNNECESSARY, and a raw socket's own packet
        // is answered too (8 zero bytes of protocol 253, either way): no checksum is verified here.
        return IcmpSend(p, 3, code, network, limiter, reply);
    }

    /// <summary>
    /// __icmp_send: an IPv4 ICMP error of <paramref name="type"/>/<paramref name="code"/> about
    /// <paramref name="p"/> (<paramref name="restOfHeader"/>: e.g. a redirect's gateway, host order),
    /// or 0 when none is sent. The rules of <see cref="Unreachable"/> from "nothing for a fragment" on apply.
    /// </summary>
    public static int IcmpSend(Packet p, byte type, byte code, HostNetwork network, IcmpRateLimiter limiter, Span<byte> reply, uint restOfHeader = 0)
    {
        if (!p.Info.IsIPv4 || KernelView.SkbLength(p) < 20) return 0;
        // icmp_xmit_lock: the packet is on its way out through the ICMP socket, which is locked.
        if (p.IcmpSocket) return 0;
        ReadOnlySpan<byte> b = p.Bytes;
        int len = KernelView.SkbLength(p);
        int ihl = (b[0] & 0x0f) * 4;
        if ((BinaryPrimitives.ReadUInt16BigEndian(b[6..]) & 0x1fff) != 0) return 0;
        byte proto = b[9];
        if (p.PktType is not (PacketType.Host or PacketType.Outgoing)) return 0;
        uint src = BinaryPrimitives.ReadUInt32BigEndian(b[12..]);
        uint dst = BinaryPrimitives.ReadUInt32BigEndian(b[16..]);
        if (IsBroadcastOrMulticast(network, dst)) return 0;
        if (proto == IpProtocol.Icmp)
        {
            if (ihl >= len) return 0;
            byte inner = b[ihl];
            if (inner > 18 || IsIcmpErrorType(inner)) return 0;
        }
        bool limited = false;
        if (p.In is not { IsLoopback: true } && !limiter.GlobalAllow(type, code, out limited)) return 0;

        var back = network.Route(4, src);
        if (back == null) return 0;
        uint saddr = network.IsLocal(4, dst) ? dst : SourceFor(network, back, src);
        if (!limiter.PeerAllow(src, back.IsLoopback, limited)) return 0;

        int quoted = Math.Min(len, IcmpErrorMax - 20 - 8);
        int total = 28 + quoted;
        if (reply.Length < total) return 0;
        byte tos = (byte)((b[1] & 0x1e) | 0xc0);
        WriteIPv4Header(reply, total, tos, limiter.NextIpId(), dontFragment: false, IpProtocol.Icmp, saddr, daddr: src);
        var icmp = reply[20..total];
        icmp[..8].Clear();
        icmp[0] = type;
        icmp[1] = code;
        BinaryPrimitives.WriteUInt32BigEndian(icmp[4..], restOfHeader);
        b[..quoted].CopyTo(icmp[8..]);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], Fold(Sum(icmp)));
        return total;
    }

    /// <summary>icmp_pointers[].error: ICMP types that are errors themselves (and the unassigned ones below 19).</summary>
    private static bool IsIcmpErrorType(byte type) => type is 1 or 2 or 3 or 4 or 5 or 6 or 7 or 9 or 10 or 11 or 12;

    /// <summary>
    /// The source the route lookup picks for an answer to <paramref name="to"/>: the destination
    /// itself when it is local (the answer goes through lo), else the interface's address in the
    /// destination's subnet, else its first address.
    /// </summary>
    private static uint SourceFor(HostNetwork network, NetInterface back, uint to)
    {
        if (network.IsLocal(4, to)) return to;
        foreach (var (a, prefix) in back.IPv4)
            if (((uint)a & Ipv4.MaskFromPrefix(prefix)) == (to & Ipv4.MaskFromPrefix(prefix))) return (uint)a;
        return back.IPv4.Count > 0 ? (uint)back.IPv4[0].Address : DummyAddress;
    }

    private static bool IsBroadcastOrMulticast(HostNetwork network, uint address) =>
        (address & 0xf0000000) == 0xe0000000 || network.IsBroadcast(address);


    private static void WriteIPv4Header(Span<byte> h, int totalLength, byte tos, ushort id, bool dontFragment, byte proto, uint saddr, uint daddr)
    {
        h[0] = 0x45;
        h[1] = tos;
        BinaryPrimitives.WriteUInt16BigEndian(h[2..], (ushort)totalLength);
        BinaryPrimitives.WriteUInt16BigEndian(h[4..], id);
        BinaryPrimitives.WriteUInt16BigEndian(h[6..], dontFragment ? (ushort)0x4000 : (ushort)0);
        h[8] = DefaultTtl;
        h[9] = proto;
        h[10] = h[11] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(h[12..], saddr);
        BinaryPrimitives.WriteUInt32BigEndian(h[16..], daddr);
        BinaryPrimitives.WriteUInt16BigEndian(h[10..], Fold(Sum(h[..20])));
    }

    private static ulong PseudoHeaderSum(uint saddr, uint daddr, byte proto, int length) =>
        (saddr >> 16) + (saddr & 0xffff) + (daddr >> 16) + (daddr & 0xffff) + proto + (uint)length;

    /// <summary>The 16-bit one's complement sum of the data, not yet folded.</summary>
    internal static ulong Sum(ReadOnlySpan<byte> data)
    {
        ulong sum = 0;
        int i = 0;
        for (; i + 1 < data.Length; i += 2) sum += (uint)(data[i] << 8 | data[i + 1]);
        if (i < data.Length) sum += (uint)data[i] << 8;
        return sum;
    }

    /// <summary>Folds a sum to 16 bits and complements it: the checksum field, or 0 when verifying a valid packet.</summary>
    internal static ushort Fold(ulong sum)
    {
        while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
        return (ushort)~sum;
    }
}
