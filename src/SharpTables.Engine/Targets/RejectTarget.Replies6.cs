using System.Buffers.Binary;
using SharpTables.Engine.Output;
using SharpTables.Packets;

namespace SharpTables.Engine.Targets;

public static partial class RejectReplies
{
    /// <summary>IPV6_MIN_MTU: an ICMPv6 error never exceeds it (icmp6_send).</summary>
    public const int Icmp6ErrorMax = 1280;

    /// <summary>
    /// nf_send_reset6: the IPv6 RST, built like the IPv4 one (sequence rules, no answer to a RST or
    /// to a fragment, checksums trusted), from a unicast source to a unicast destination only.
    /// Traffic class 0, flow label 0, hop limit 64; the checksum is complete.
    /// </summary>
    public static int TcpReset6(Packet p, HostNetwork network, Span<byte> reply)
    {
        ReadOnlySpan<byte> b = p.Bytes;
        int len = KernelView.SkbLength(p);
        if (!p.Info.IsIPv6 || len < 40 || reply.Length < 60) return 0;
        UInt128 src = PacketParser.ReadUInt128(b[8..]), dst = PacketParser.ReadUInt128(b[24..]);
        if (!IsUnicast6(src) || !IsUnicast6(dst)) return 0;
        int th = SkipExtensionHeaders(b, len, out byte proto, out bool laterFragment);
        if (th < 0 || proto != IpProtocol.Tcp || laterFragment || len - th < 20) return 0;
        var t0 = b[th..];
        byte flags = t0[13];
        if ((flags & TcpFlagBits.Rst) != 0) return 0;
        if (network.Route(6, src) == null) return 0;

        WriteIPv6Header(reply, payloadLength: 20, IpProtocol.Tcp, saddr: dst, daddr: src);
        var t = reply.Slice(40, 20);
        t.Clear();
        t0[2..4].CopyTo(t);
        t0[..2].CopyTo(t[2..]);
        t[12] = 5 << 4;
        if ((flags & TcpFlagBits.Ack) != 0)
        {
            t0.Slice(8, 4).CopyTo(t[4..]);
            t[13] = TcpFlagBits.Rst;
        }
        else
        {
            uint payload = unchecked((uint)(len - th - (t0[12] >> 4) * 4));
            uint ack = unchecked(BinaryPrimitives.ReadUInt32BigEndian(t0[4..]) + (uint)(flags & TcpFlagBits.Syn) / TcpFlagBits.Syn
                                 + (uint)(flags & TcpFlagBits.Fin) + payload);
            BinaryPrimitives.WriteUInt32BigEndian(t[8..], ack);
            t[13] = TcpFlagBits.Rst | TcpFlagBits.Ack;
        }
        BinaryPrimitives.WriteUInt16BigEndian(t[16..], Fold(PseudoHeaderSum6(dst, src, IpProtocol.Tcp, 20) + Sum(t)));
        return 60;
    }

    /// <summary>
    /// nf_send_unreach6 + icmp6_send: ICMPv6 destination unreachable with <paramref name="code"/>
    /// (0 no route, 1 administratively prohibited, 3 address unreachable, 4 port unreachable),
    /// quoting as much of the packet as fits in 1280 bytes. Nothing for a fragment other than the
    /// first, a packet without anything after its headers (checksums trusted), a multicast destination
    /// or a frame for another host, an unspecified or multicast source, an ICMPv6 error, or when no
    /// route leads back or the rate limits say no. Traffic class 0, hop limit 64. The source is
    /// the packet's destination when that is local, else an address of the interface it came in
    /// on (or of the one the answer leaves through). The kernel's flow label is a keyed hash of
    /// the flow (auto_flowlabels); the model leaves it 0.
    /// </summary>
    public static int Unreachable6(Packet p, byte code, HostNetwork network, IcmpRateLimiter limiter, Span<byte> reply)
    {
        ReadOnlySpan<byte> b = p.Bytes;
        int len = KernelView.SkbLength(p);
        if (!p.Info.IsIPv6 || len < 40) return 0;
        int th = SkipExtensionHeaders(b, len, out byte proto, out bool laterFragment);
        if (th < 0 || th >= len || laterFragment) return 0;

        // icmp6_send
        UInt128 src = PacketParser.ReadUInt128(b[8..]), dst = PacketParser.ReadUInt128(b[24..]);
        if (IsMulticast6(dst) || p.PktType is not (PacketType.Host or PacketType.Outgoing)) return 0;
        if (src == 0 || IsMulticast6(src)) return 0;
        if (proto == IpProtocol.Icmpv6 && b[th] < 128) return 0; // is_ineligible: never answer an error
        const byte type = 1;
        bool limited = false;
        if (p.In is not { IsLoopback: true } && !limiter.GlobalAllow6(type, out limited)) return 0;

        var back = network.Route(6, src);
        if (back == null) return 0;
        UInt128 saddr = network.IsLocal(6, dst) ? dst : SourceFor6(network, p.In ?? back, back, src);
        if (!limiter.PeerAllow6(src, back.IsLoopback, limited)) return 0;

        int quoted = Math.Min(len, Icmp6ErrorMax - 40 - 8);
        int total = 48 + quoted;
        if (reply.Length < total) return 0;
        WriteIPv6Header(reply, 8 + quoted, IpProtocol.Icmpv6, saddr, daddr: src);
        var icmp = reply[40..total];
        icmp[..8].Clear();
        icmp[0] = type;
        icmp[1] = code;
        b[..quoted].CopyTo(icmp[8..]);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], Fold(PseudoHeaderSum6(saddr, src, IpProtocol.Icmpv6, icmp.Length) + Sum(icmp)));
        return total;
    }

    /// <summary>
    /// ipv6_skip_exthdr from the end of the fixed header: the offset of the upper-layer header
    /// (-1 when the chain ends in "no next header" or is cut), its protocol, and whether a
    /// fragment header with a non-zero offset stopped the walk.
    /// </summary>
    private static int SkipExtensionHeaders(ReadOnlySpan<byte> b, int len, out byte proto, out bool laterFragment)
    {
        proto = b[6];
        laterFragment = false;
        int off = 40;
        while (proto is IpProtocol.HopByHop or IpProtocol.Routing or IpProtocol.Fragment or IpProtocol.Ah
               or IpProtocol.NoNext or IpProtocol.DestinationOptions)
        {
            if (proto == IpProtocol.NoNext || off + 2 > len) return -1;
            int hdrlen;
            if (proto == IpProtocol.Fragment)
            {
                if (off + 4 > len) return -1;
                if ((BinaryPrimitives.ReadUInt16BigEndian(b[(off + 2)..]) & ~0x7) != 0)
                {
                    laterFragment = true;
                    return off;
                }
                hdrlen = 8;
            }
            else hdrlen = proto == IpProtocol.Ah ? (b[off + 1] + 2) * 4 : (b[off + 1] + 1) * 8;
            proto = b[off];
            off += hdrlen;
        }
        return off;
    }

    private static UInt128 SourceFor6(HostNetwork network, NetInterface preferred, NetInterface back, UInt128 to)
    {
        if (network.IsLocal(6, to)) return to;
        if (preferred.IPv6.Count > 0) return preferred.IPv6[0].Address;
        return back.IPv6.Count > 0 ? back.IPv6[0].Address : to;
    }

    private static bool IsMulticast6(UInt128 a) => (byte)(a >> 120) == 0xff;

    private static bool IsUnicast6(UInt128 a) => a != 0 && !IsMulticast6(a);

    private static void WriteIPv6Header(Span<byte> h, int payloadLength, byte nextHeader, UInt128 saddr, UInt128 daddr)
    {
        BinaryPrimitives.WriteUInt32BigEndian(h, 0x60000000);
        BinaryPrimitives.WriteUInt16BigEndian(h[4..], (ushort)payloadLength);
        h[6] = nextHeader;
        h[7] = DefaultTtl;
        PacketParser.WriteUInt128(h[8..], saddr);
        PacketParser.WriteUInt128(h[24..], daddr);
    }

    private static ulong PseudoHeaderSum6(UInt128 saddr, UInt128 daddr, byte proto, int length)
    {
        ulong sum = proto + (ulong)length;
        for (int i = 0; i < 128; i += 16) sum += (ulong)((saddr >> i) & 0xffff) + (ulong)((daddr >> i) & 0xffff);
        return sum;
    }
}
