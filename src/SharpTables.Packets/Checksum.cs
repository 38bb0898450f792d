using System.Buffers.Binary;

namespace SharpTables.Packets;

/// <summary>
/// The Internet checksum (RFC 1071): ones'-complement sums over spans, the IPv4/IPv6
/// pseudo-header sums, full computation and verification for the IPv4 header, TCP, UDP, ICMP
/// and ICMPv6, and incremental updates (RFC 1624 eqn. 3, the kernel's <c>csum_replace*</c>).
/// A "sum" here is an unfolded 32-bit accumulator (<c>__wsum</c>); a checksum is the folded,
/// complemented 16-bit value as it is stored in a header. A 32-bit value may be added whole:
/// 2^16 = 1 (mod 0xffff), so it counts as its two 16-bit words. Nothing allocates.
/// With an IPv6 routing header the pseudo-header takes the packet's destination field as it
/// stands, not the final destination the routing header names.
/// </summary>
public static class Checksum
{
    /// <summary>Adds <paramref name="data"/> as big-endian 16-bit words to <paramref name="sum"/> (an odd last byte is padded with zero).</summary>
    public static uint Add(uint sum, ReadOnlySpan<byte> data)
    {
        ulong acc = sum;
        int i = 0;
        for (; i + 4 <= data.Length; i += 4) acc += BinaryPrimitives.ReadUInt32BigEndian(data[i..]);
        if (i + 2 <= data.Length) { acc += BinaryPrimitives.ReadUInt16BigEndian(data[i..]); i += 2; }
        if (i < data.Length) acc += (uint)data[i] << 8;
        return Reduce(acc);
    }

    /// <summary>Adds a 16-bit word to a sum.</summary>
    public static uint Add(uint sum, ushort word) => Reduce((ulong)sum + word);

    /// <summary>Adds a 32-bit value (two 16-bit words) to a sum.</summary>
    public static uint Add(uint sum, uint value) => Reduce((ulong)sum + value);

    /// <summary>Adds a 128-bit value (eight 16-bit words) to a sum.</summary>
    public static uint Add(uint sum, UInt128 value)
    {
        ulong hi = (ulong)(value >> 64), lo = (ulong)value;
        return Reduce((ulong)sum + (hi >> 32) + (hi & 0xffffffff) + (lo >> 32) + (lo & 0xffffffff));
    }

    /// <summary>Folds a sum to 16 bits and complements it: the value a header stores.</summary>
    public static ushort Finish(uint sum)
    {
        sum = (sum & 0xffff) + (sum >> 16);
        sum = (sum & 0xffff) + (sum >> 16);
        return (ushort)~sum;
    }

    /// <summary>The checksum of <paramref name="data"/> alone (IPv4 header, ICMP message).</summary>
    public static ushort Compute(ReadOnlySpan<byte> data) => Finish(Add(0, data));

    /// <summary>Sum of the IPv4 pseudo-header (RFC 793/768): addresses, protocol and upper-layer length.</summary>
    public static uint PseudoHeaderV4(uint source, uint destination, byte protocol, int length) =>
        Add(Add(Add(0, source), destination), (uint)protocol + (uint)length);

    /// <summary>Sum of the IPv6 pseudo-header (RFC 8200 section 8.1).</summary>
    public static uint PseudoHeaderV6(UInt128 source, UInt128 destination, byte nextHeader, int length) =>
        Add(Add(Add(0, source), destination), (uint)length + nextHeader);

    /// <summary>
    /// Computes and stores the IPv4 header checksum of <paramref name="packet"/> (bytes from the
    /// IP header). Returns false, changing nothing, when the header is not all there.
    /// </summary>
    public static bool SetIpv4Header(Span<byte> packet)
    {
        if (!Ipv4Header.TryRead(packet, out var ip) || ip.HeaderLength < Ipv4Header.MinimumSize || ip.HeaderLength > packet.Length)
            return false;
        int hl = ip.HeaderLength;
        packet[Ipv4Header.Offsets.Checksum] = 0;
        packet[Ipv4Header.Offsets.Checksum + 1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(packet[Ipv4Header.Offsets.Checksum..], Compute(packet[..hl]));
        return true;
    }

    /// <summary>True when the IPv4 header of <paramref name="packet"/> is complete and its checksum is right.</summary>
    public static bool IsIpv4HeaderValid(ReadOnlySpan<byte> packet) =>
        Ipv4Header.TryRead(packet, out var ip) && ip.HeaderLength >= Ipv4Header.MinimumSize && ip.HeaderLength <= packet.Length
        && Finish(Add(0, packet[..ip.HeaderLength])) == 0;

    /// <summary>
    /// Computes and stores the TCP, UDP, UDP-Lite (whole datagram), ICMP or ICMPv6 checksum of
    /// <paramref name="packet"/> (bytes from the IP header; the transport segment runs to the IP
    /// total length). Returns false, changing nothing, when there is no complete transport
    /// header to checksum (other protocol, non-first fragment, truncated packet).
    /// </summary>
    public static bool SetTransport(Span<byte> packet)
    {
        if (!TryLocateTransport(packet, out int off, out int end, out uint pseudo, out byte proto, out int field))
            return false;
        packet[off + field] = 0;
        packet[off + field + 1] = 0;
        ushort c = Finish(Add(pseudo, packet[off..end]));
        // RFC 768: a computed UDP checksum of zero is sent as all ones (zero means "none").
        if (c == 0 && proto is IpProtocol.Udp or IpProtocol.UdpLite) c = 0xffff;
        BinaryPrimitives.WriteUInt16BigEndian(packet[(off + field)..], c);
        return true;
    }

    /// <summary>
    /// True when the transport checksum of <paramref name="packet"/> is right. An IPv4 UDP
    /// datagram with checksum 0 carries none and counts as right; false when there is no
    /// complete transport segment to verify.
    /// </summary>
    public static bool IsTransportValid(ReadOnlySpan<byte> packet)
    {
        if (!TryLocateTransport(packet, out int off, out int end, out uint pseudo, out byte proto, out int field))
            return false;
        if (proto == IpProtocol.Udp && packet[0] >> 4 == 4 && BinaryPrimitives.ReadUInt16BigEndian(packet[(off + field)..]) == 0)
            return true;
        return Finish(Add(pseudo, packet[off..end])) == 0;
    }

    /// <summary>
    /// Finds the transport segment [off, end) of a whole (unfragmented or first-fragment)
    /// packet, its pseudo-header sum (0 for ICMP), protocol and checksum field offset.
    /// </summary>
    private static bool TryLocateTransport(ReadOnlySpan<byte> packet, out int off, out int end, out uint pseudo, out byte proto, out int field)
    {
        off = end = field = 0;
        pseudo = 0;
        proto = 0;
        if (!PacketParser.Parse(packet, out var info) || info.TransportOffset < 0) return false;
        if ((info.Flags & (PacketFlags.Truncated | PacketFlags.BadNetworkHeader)) != 0) return false;
        off = info.TransportOffset;
        end = info.TotalLength;
        proto = info.Protocol;
        int length = end - off;
        field = TransportChecksumOffset(proto);
        if (field < 0 || length < field + 2) return false;
        // ICMPv4 has no pseudo-header (and inside IPv6 it is no message of ours to check).
        if (proto == IpProtocol.Icmp) return info.IsIPv4;
        pseudo = info.IsIPv4
            ? PseudoHeaderV4((uint)info.Source, (uint)info.Destination, proto, length)
            : PseudoHeaderV6(info.Source, info.Destination, proto, length);
        return true;
    }

    /// <summary>Where the checksum sits in a transport header, or -1 for a protocol this class does not checksum.</summary>
    public static int TransportChecksumOffset(byte protocol) => protocol switch
    {
        IpProtocol.Tcp => TcpHeader.Offsets.Checksum,
        IpProtocol.Udp or IpProtocol.UdpLite => UdpHeader.Offsets.Checksum,
        IpProtocol.Icmp or IpProtocol.Icmpv6 => IcmpHeader.Offsets.Checksum,
        _ => -1,
    };

    /// <summary>RFC 1624 eqn. 3 for one changed 16-bit word: HC' = ~(~HC + ~m + m').</summary>
    public static ushort Update(ushort check, ushort oldWord, ushort newWord) =>
        Finish(Add(Add((uint)(ushort)~check, (ushort)~oldWord), newWord));

    /// <summary>RFC 1624 for a changed 32-bit field (an IPv4 address, a sequence number).</summary>
    public static ushort Update(ushort check, uint oldValue, uint newValue) =>
        Finish(Add(Add((uint)(ushort)~check, ~oldValue), newValue));

    /// <summary>RFC 1624 for a changed 128-bit field (an IPv6 address).</summary>
    public static ushort Update(ushort check, UInt128 oldValue, UInt128 newValue) =>
        Finish(Add(Add((uint)(ushort)~check, ~oldValue), newValue));

    private static uint Reduce(ulong acc)
    {
        acc = (acc & 0xffffffff) + (acc >> 32);
        acc = (acc & 0xffffffff) + (acc >> 32);
        return (uint)acc;
    }
}
