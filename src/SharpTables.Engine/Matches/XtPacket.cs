using System.Buffers.Binary;

namespace SharpTables.Engine.Matches;

/// <summary>
/// What nf_tables hands a match about the packet (struct nft_pktinfo, copied into the xtables
/// match parameters by nft_compat): the transport header offset, the fragment offset and the
/// bytes the skb really holds. Shared by the matches of this folder; allocation free.
/// </summary>
internal static class XtPacket
{
    /// <summary>
    /// par->fragoff: IPv4 counts in 8-byte units (iph->frag_off &amp; IP_OFFSET), IPv6 in bytes
    /// (ipv6_find_hdr), so xt_tcp's "offset == 1" test can only hit IPv4.
    /// </summary>
    public static int FragmentOffset(Packet p) =>
        p.Info.IsIPv6 ? p.Info.FragmentOffset * 8 : p.Info.FragmentOffset;

    /// <summary>
    /// skb->len: the bytes the kernel sees. ip_rcv/ip6_rcv trim the skb to the length the IP
    /// header states, so trailing link-layer padding is not part of it.
    /// </summary>
    public static int End(Packet p)
    {
        int total = p.Info.TotalLength;
        return total > 0 && total < p.Length ? total : p.Length;
    }

    /// <summary>
    /// pkt->thoff, the transport header offset nf_tables computes. For a non-first fragment there
    /// is no transport header, but the offset is still set: after the IPv4 header, and 0 for IPv6
    /// (ipv6_find_hdr returns early without storing it). -1 when the packet has none at all.
    /// </summary>
    public static int TransportOffset(Packet p)
    {
        if (p.Info.TransportOffset >= 0) return p.Info.TransportOffset;
        if (!p.Info.IsFragment) return -1;
        return p.Info.IsIPv6 ? 0 : p.Info.HeaderLength;
    }

    /// <summary>
    /// skb_header_pointer: whether <paramref name="length"/> bytes at <paramref name="offset"/>
    /// past the transport header offset lie inside the packet.
    /// </summary>
    public static bool HasTransportBytes(Packet p, int offset, int length)
    {
        int thoff = TransportOffset(p);
        return thoff >= 0 && thoff + offset + length <= End(p);
    }

    /// <summary>A byte of the transport header; call <see cref="HasTransportBytes"/> first.</summary>
    public static byte TransportU8(Packet p, int offset) => p.Buffer[TransportOffset(p) + offset];

    /// <summary>A big-endian 16-bit field of the transport header; call <see cref="HasTransportBytes"/> first.</summary>
    public static ushort TransportU16(Packet p, int offset) =>
        BinaryPrimitives.ReadUInt16BigEndian(p.Buffer.AsSpan(TransportOffset(p) + offset, 2));

    /// <summary>
    /// nft_payload_eval of NFT_PAYLOAD_TRANSPORT_HEADER: the load fails (NFT_BREAK: the rule does
    /// not match, nothing is dropped) when the bytes are beyond the packet. The 6.18 kernel does
    /// not refuse non-first fragments: the oracle showed <c>-p tcp --dport 80</c> matching an IPv4
    /// fragment with offset 1 and 2 whose first bytes held port 80, so the load reads whatever
    /// sits at the transport offset.
    /// </summary>
    public static bool NftTransportLoad(Packet p, int offset, int length) => HasTransportBytes(p, offset, length);
}

/// <summary>An inclusive 16-bit range test with optional inversion, as nftables' cmp/range expressions and xt port_match do.</summary>
internal readonly struct PortTest(ushort min, ushort max, bool invert)
{
    public readonly ushort Min = min, Max = max;
    public readonly bool Invert = invert;

    /// <summary>Whether the range covers every port (iptables-nft emits no expression for it, inverted or not).</summary>
    public bool IsFull => Min == 0 && Max == ushort.MaxValue;

    public bool Matches(ushort port) => (port >= Min && port <= Max) ^ Invert;
}

/// <summary>
/// The port part of a tcp/udp match as iptables-nft 1.8.9 emits it natively (add_nft_tcpudp):
/// both ports single, non-zero and inverted alike become one 32-bit compare of (sport, dport),
/// so the inverted form matches when <em>either</em> port differs; otherwise one compare per
/// port whose range is not 0-65535. Each load that does not fit the packet fails the rule.
/// </summary>
internal readonly struct NftPortMatch
{
    private readonly PortTest _source, _dest;
    private readonly bool _pair;

    public NftPortMatch(PortTest source, PortTest dest)
    {
        _source = source;
        _dest = dest;
        _pair = source.Min != 0 && source.Min == source.Max && dest.Min != 0 && dest.Min == dest.Max
                && source.Invert == dest.Invert;
    }

    public bool Matches(Packet p)
    {
        if (_pair)
        {
            if (!XtPacket.NftTransportLoad(p, 0, 4)) return false;
            bool equal = XtPacket.TransportU16(p, 0) == _source.Min && XtPacket.TransportU16(p, 2) == _dest.Min;
            return equal ^ _source.Invert;
        }
        if (!_source.IsFull)
        {
            if (!XtPacket.NftTransportLoad(p, 0, 2) || !_source.Matches(XtPacket.TransportU16(p, 0))) return false;
        }
        if (!_dest.IsFull)
        {
            if (!XtPacket.NftTransportLoad(p, 2, 2) || !_dest.Matches(XtPacket.TransportU16(p, 2))) return false;
        }
        return true;
    }
}
