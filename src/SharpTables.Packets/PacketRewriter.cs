using System.Buffers.Binary;

namespace SharpTables.Packets;

/// <summary>
/// In-place rewrites of an IP packet (bytes from the IP header) for NAT and the mangle
/// targets, with the checksums updated incrementally (RFC 1624) as the kernel's
/// <c>csum_replace*</c>/<c>inet_proto_csum_replace*</c> do: the IPv4 header checksum, and the
/// TCP, UDP, UDP-Lite, DCCP or ICMPv6 checksum where an address is part of the pseudo-header
/// or a port/identifier is part of the header.
/// Like the kernel's l4 manip functions, a transport header that is only partly present (the
/// 8 quoted bytes inside an ICMP error) has its ports rewritten but its checksum left alone;
/// a UDP checksum of 0 (none) stays 0, and an updated one that comes out 0 is stored as 0xffff.
/// Each method returns false, changing nothing, when the field is not in the packet
/// (wrong family, no transport header, non-first fragment, too short). No allocation, no throw.
/// </summary>
public static class PacketRewriter
{
    /// <summary>Replaces the IPv4 source address; updates the IP and transport checksums.</summary>
    public static bool SetIpv4Source(Span<byte> packet, uint address) => SetIpv4Address(packet, Ipv4Header.Offsets.Source, address);

    /// <summary>Replaces the IPv4 destination address; updates the IP and transport checksums.</summary>
    public static bool SetIpv4Destination(Span<byte> packet, uint address) => SetIpv4Address(packet, Ipv4Header.Offsets.Destination, address);

    /// <summary>Replaces the IPv6 source address; updates the transport checksum.</summary>
    public static bool SetIpv6Source(Span<byte> packet, UInt128 address) => SetIpv6Address(packet, Ipv6Header.Offsets.Source, address);

    /// <summary>Replaces the IPv6 destination address; updates the transport checksum.</summary>
    public static bool SetIpv6Destination(Span<byte> packet, UInt128 address) => SetIpv6Address(packet, Ipv6Header.Offsets.Destination, address);

    /// <summary>Replaces the TCP/UDP/UDP-Lite/DCCP/SCTP source port (SCTP's CRC32c is not updated).</summary>
    public static bool SetSourcePort(Span<byte> packet, ushort port) => SetTransportWord(packet, 0, port, portsOnly: true);

    /// <summary>Replaces the TCP/UDP/UDP-Lite/DCCP/SCTP destination port (SCTP's CRC32c is not updated).</summary>
    public static bool SetDestinationPort(Span<byte> packet, ushort port) => SetTransportWord(packet, 2, port, portsOnly: true);

    /// <summary>Replaces the identifier of an ICMP/ICMPv6 echo (or other query) message; updates its checksum.</summary>
    public static bool SetIcmpId(Span<byte> packet, ushort id) => SetTransportWord(packet, IcmpHeader.Offsets.Identifier, id, portsOnly: false);

    /// <summary>Sets the IPv4 TTL (updating the header checksum) or the IPv6 hop limit.</summary>
    public static bool SetTtl(Span<byte> packet, byte ttl)
    {
        if (Ipv6Header.TryRead(packet, out _)) { packet[Ipv6Header.Offsets.HopLimit] = ttl; return true; }
        if (!Ipv4Header.TryRead(packet, out _)) return false;
        // The TTL shares a 16-bit word with the protocol (ttl_mt's csum_replace2 in the TTL target).
        ReplaceIpv4Word(packet, Ipv4Header.Offsets.Ttl, (ushort)(ttl << 8 | packet[Ipv4Header.Offsets.Protocol]));
        return true;
    }

    /// <summary>Sets the IPv4 TOS byte (updating the header checksum) or the IPv6 traffic class.</summary>
    public static bool SetTos(Span<byte> packet, byte tos)
    {
        if (Ipv6Header.TryRead(packet, out _))
        {
            uint first = BinaryPrimitives.ReadUInt32BigEndian(packet);
            BinaryPrimitives.WriteUInt32BigEndian(packet, (first & 0xf00fffff) | (uint)tos << 20);
            return true;
        }
        if (!Ipv4Header.TryRead(packet, out _)) return false;
        ReplaceIpv4Word(packet, Ipv4Header.Offsets.VersionIhl, (ushort)(packet[0] << 8 | tos));
        return true;
    }

    private static bool SetIpv4Address(Span<byte> packet, int field, uint address)
    {
        if (!Ipv4Header.TryRead(packet, out _)) return false;
        uint old = BinaryPrimitives.ReadUInt32BigEndian(packet[field..]);
        BinaryPrimitives.WriteUInt32BigEndian(packet[field..], address);
        ushort ipCheck = BinaryPrimitives.ReadUInt16BigEndian(packet[Ipv4Header.Offsets.Checksum..]);
        BinaryPrimitives.WriteUInt16BigEndian(packet[Ipv4Header.Offsets.Checksum..], Checksum.Update(ipCheck, old, address));
        if (TryFindPseudoChecksum(packet, out int at, out byte protocol))
            UpdateL4(packet, at, protocol, Checksum.Update(BinaryPrimitives.ReadUInt16BigEndian(packet[at..]), old, address));
        return true;
    }

    private static bool SetIpv6Address(Span<byte> packet, int field, UInt128 address)
    {
        if (!Ipv6Header.TryRead(packet, out _)) return false;
        UInt128 old = PacketParser.ReadUInt128(packet[field..]);
        PacketParser.WriteUInt128(packet[field..], address);
        if (TryFindPseudoChecksum(packet, out int at, out byte protocol))
            UpdateL4(packet, at, protocol, Checksum.Update(BinaryPrimitives.ReadUInt16BigEndian(packet[at..]), old, address));
        return true;
    }

    /// <summary>Rewrites a 16-bit word of the transport header and updates the transport checksum if it is present.</summary>
    private static bool SetTransportWord(Span<byte> packet, int offset, ushort value, bool portsOnly)
    {
        if (!PacketParser.Parse(packet, out var info) || info.TransportOffset < 0) return false;
        int off = info.TransportOffset;
        var l4 = packet[off..Math.Min(packet.Length, info.TotalLength)];
        bool ok = portsOnly
            ? info.Protocol is IpProtocol.Tcp or IpProtocol.Udp or IpProtocol.UdpLite or IpProtocol.Dccp or IpProtocol.Sctp
            : (info.Protocol == IpProtocol.Icmp && info.IsIPv4 || info.Protocol == IpProtocol.Icmpv6 && info.IsIPv6)
              && PacketParser.IsEcho(info.Protocol, info.IcmpType);
        if (!ok || l4.Length < offset + 2) return false;
        ushort old = BinaryPrimitives.ReadUInt16BigEndian(l4[offset..]);
        BinaryPrimitives.WriteUInt16BigEndian(l4[offset..], value);
        int field = ChecksumOffset(info.Protocol);
        if (field >= 0 && l4.Length >= field + 2)
            UpdateL4(packet, off + field, info.Protocol, Checksum.Update(BinaryPrimitives.ReadUInt16BigEndian(l4[field..]), old, value));
        return true;
    }

    /// <summary>Where the checksum covering the pseudo-header is, for a packet whose addresses change.</summary>
    private static bool TryFindPseudoChecksum(ReadOnlySpan<byte> packet, out int at, out byte protocol)
    {
        at = -1;
        protocol = 0;
        if (!PacketParser.Parse(packet, out var info) || info.TransportOffset < 0) return false;
        // ICMPv4 has no pseudo-header; ICMPv6 has one.
        if (info.Protocol == IpProtocol.Icmp || info.Protocol == IpProtocol.Icmpv6 && info.IsIPv4) return false;
        int field = ChecksumOffset(info.Protocol);
        int l4Length = Math.Min(packet.Length, info.TotalLength) - info.TransportOffset;
        if (field < 0 || l4Length < field + 2) return false;
        at = info.TransportOffset + field;
        protocol = info.Protocol;
        return true;
    }

    private static int ChecksumOffset(byte protocol) => protocol switch
    {
        IpProtocol.Dccp => 6, // struct dccp_hdr: sport, dport, doff, ccval/cscov, checksum
        IpProtocol.Sctp => -1, // CRC32c over the packet, no pseudo-header
        _ => Checksum.TransportChecksumOffset(protocol),
    };

    /// <summary>
    /// Stores an updated transport checksum as <c>__udp_manip_pkt</c> does: UDP's "no checksum"
    /// (0) stays 0, and a UDP or UDP-Lite result of 0 is stored as 0xffff (CSUM_MANGLED_0).
    /// </summary>
    private static void UpdateL4(Span<byte> packet, int at, byte protocol, ushort updated)
    {
        if (protocol == IpProtocol.Udp && BinaryPrimitives.ReadUInt16BigEndian(packet[at..]) == 0) return;
        if (updated == 0 && protocol is IpProtocol.Udp or IpProtocol.UdpLite) updated = 0xffff;
        BinaryPrimitives.WriteUInt16BigEndian(packet[at..], updated);
    }

    private static void ReplaceIpv4Word(Span<byte> packet, int offset, ushort word)
    {
        ushort old = BinaryPrimitives.ReadUInt16BigEndian(packet[offset..]);
        BinaryPrimitives.WriteUInt16BigEndian(packet[offset..], word);
        ushort check = BinaryPrimitives.ReadUInt16BigEndian(packet[Ipv4Header.Offsets.Checksum..]);
        BinaryPrimitives.WriteUInt16BigEndian(packet[Ipv4Header.Offsets.Checksum..], Checksum.Update(check, old, word));
    }
}
