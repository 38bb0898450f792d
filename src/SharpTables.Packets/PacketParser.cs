using System.Buffers.Binary;

namespace SharpTables.Packets;

/// <summary>
/// Parses an IP packet (bytes starting at the IP header) into a <see cref="PacketInfo"/>.
/// Never throws and never allocates: truncated or malformed input yields flags the engine judges.
/// </summary>
public static class PacketParser
{
    /// <summary>Parses <paramref name="packet"/>; returns false when it is not an IP packet (version neither 4 nor 6, or shorter than a header).</summary>
    public static bool Parse(ReadOnlySpan<byte> packet, out PacketInfo info)
    {
        info = default;
        info.Length = packet.Length;
        info.TransportOffset = -1;
        if (packet.Length < 1) return false;
        int version = packet[0] >> 4;
        if (version == 4) return ParseV4(packet, ref info);
        if (version == 6) return ParseV6(packet, ref info);
        return false;
    }

    private static bool ParseV4(ReadOnlySpan<byte> p, ref PacketInfo info)
    {
        info.Version = 4;
        if (p.Length < 20)
        {
            info.Flags |= PacketFlags.Truncated | PacketFlags.BadNetworkHeader;
            return false;
        }
        int ihl = (p[0] & 0x0f) * 4;
        info.HeaderLength = ihl;
        info.Tos = p[1];
        info.TotalLength = BinaryPrimitives.ReadUInt16BigEndian(p[2..]);
        info.Id = BinaryPrimitives.ReadUInt16BigEndian(p[4..]);
        ushort frag = BinaryPrimitives.ReadUInt16BigEndian(p[6..]);
        info.FragmentOffset = (ushort)(frag & 0x1fff);
        if ((frag & 0x2000) != 0) info.Flags |= PacketFlags.MoreFragments;
        if ((frag & 0x4000) != 0) info.Flags |= PacketFlags.DontFragment;
        if (info.FragmentOffset != 0) info.Flags |= PacketFlags.Fragment;
        info.Ttl = p[8];
        info.Protocol = p[9];
        info.Source = BinaryPrimitives.ReadUInt32BigEndian(p[12..]);
        info.Destination = BinaryPrimitives.ReadUInt32BigEndian(p[16..]);
        if (ihl < 20 || info.TotalLength < ihl)
        {
            info.Flags |= PacketFlags.BadNetworkHeader;
            return true;
        }
        if (ihl > 20) info.Flags |= PacketFlags.HasIpOptions;
        if (p.Length < ihl || p.Length < info.TotalLength) info.Flags |= PacketFlags.Truncated;
        if (p.Length < ihl) return true;
        if (info.IsFragment) return true;
        // The transport header lies within the datagram as its total length bounds it.
        int end = Math.Min(p.Length, info.TotalLength);
        ParseTransport(p[..end], ihl, ref info);
        return true;
    }

    private static bool ParseV6(ReadOnlySpan<byte> p, ref PacketInfo info)
    {
        info.Version = 6;
        info.HeaderLength = 40;
        if (p.Length < 40)
        {
            info.Flags |= PacketFlags.Truncated | PacketFlags.BadNetworkHeader;
            return false;
        }
        uint first = BinaryPrimitives.ReadUInt32BigEndian(p);
        info.Tos = (byte)(first >> 20);
        info.FlowLabel = first & 0xfffff;
        info.TotalLength = 40 + BinaryPrimitives.ReadUInt16BigEndian(p[4..]);
        info.Ttl = p[7];
        info.Source = ReadUInt128(p[8..]);
        info.Destination = ReadUInt128(p[24..]);
        if (p.Length < info.TotalLength) info.Flags |= PacketFlags.Truncated;
        // The kernel trims the skb to the payload length before PREROUTING; walk the headers in that.
        int end = Math.Min(p.Length, info.TotalLength);
        var walk = new Ipv6ExtensionHeaderEnumerator(p[..end]);
        while (walk.MoveNext())
        {
            var h = walk.Current;
            if (h.Type != IpProtocol.Fragment) continue;
            info.Flags |= PacketFlags.HasFragmentHeader;
            info.FragmentOffset = h.FragmentOffset;
            info.FragmentId = h.FragmentId;
            if (h.MoreFragments) info.Flags |= PacketFlags.MoreFragments;
        }
        info.Protocol = walk.NextHeader;
        if (walk.NonFirstFragment) { info.Flags |= PacketFlags.Fragment; return true; }
        if (walk.Truncated) { info.Flags |= PacketFlags.Truncated; return true; }
        if (walk.NextHeader == IpProtocol.NoNext) return true;
        if (walk.Offset > end) { info.Flags |= PacketFlags.Truncated; return true; }
        ParseTransport(p[..end], walk.Offset, ref info);
        return true;
    }

    private static void ParseTransport(ReadOnlySpan<byte> p, int off, ref PacketInfo info)
    {
        info.TransportOffset = off;
        var t = p[off..];
        switch (info.Protocol)
        {
            case IpProtocol.Tcp:
                if (t.Length < 20) { info.Flags |= PacketFlags.TransportTruncated; ReadPortsIfPresent(t, ref info); return; }
                info.SourcePort = BinaryPrimitives.ReadUInt16BigEndian(t);
                info.DestinationPort = BinaryPrimitives.ReadUInt16BigEndian(t[2..]);
                info.TcpSequence = BinaryPrimitives.ReadUInt32BigEndian(t[4..]);
                info.TcpAcknowledgment = BinaryPrimitives.ReadUInt32BigEndian(t[8..]);
                info.TcpDataOffset = (byte)(t[12] >> 4);
                info.TcpReserved = (byte)(t[12] & 0x0f);
                info.TcpFlags = t[13];
                info.TcpWindow = BinaryPrimitives.ReadUInt16BigEndian(t[14..]);
                info.TcpUrgentPointer = BinaryPrimitives.ReadUInt16BigEndian(t[18..]);
                if (info.TcpDataOffset < 5 || info.TcpDataOffset * 4 > t.Length) info.Flags |= PacketFlags.BadTransportHeader;
                return;
            case IpProtocol.Udp:
            case IpProtocol.UdpLite:
                if (t.Length < 8) { info.Flags |= PacketFlags.TransportTruncated; ReadPortsIfPresent(t, ref info); return; }
                info.SourcePort = BinaryPrimitives.ReadUInt16BigEndian(t);
                info.DestinationPort = BinaryPrimitives.ReadUInt16BigEndian(t[2..]);
                return;
            case IpProtocol.Sctp:
            case IpProtocol.Dccp:
                if (t.Length < 4) { info.Flags |= PacketFlags.TransportTruncated; return; }
                info.SourcePort = BinaryPrimitives.ReadUInt16BigEndian(t);
                info.DestinationPort = BinaryPrimitives.ReadUInt16BigEndian(t[2..]);
                return;
            case IpProtocol.Icmp:
            case IpProtocol.Icmpv6:
                if (t.Length < 2) { info.Flags |= PacketFlags.TransportTruncated; return; }
                info.IcmpType = t[0];
                info.IcmpCode = t[1];
                if (t.Length < 8) { info.Flags |= PacketFlags.TransportTruncated; return; }
                if (IsEcho(info.Protocol, info.IcmpType))
                {
                    info.IcmpId = BinaryPrimitives.ReadUInt16BigEndian(t[4..]);
                    info.IcmpSequence = BinaryPrimitives.ReadUInt16BigEndian(t[6..]);
                }
                return;
            default:
                return;
        }
    }

    private static void ReadPortsIfPresent(ReadOnlySpan<byte> t, ref PacketInfo info)
    {
        if (t.Length >= 4)
        {
            info.SourcePort = BinaryPrimitives.ReadUInt16BigEndian(t);
            info.DestinationPort = BinaryPrimitives.ReadUInt16BigEndian(t[2..]);
        }
    }

    /// <summary>ICMP echo/timestamp/info/address-mask queries and replies (v4) or echo (v6): the ones with an id.</summary>
    public static bool IsEcho(byte protocol, byte type) => protocol == IpProtocol.Icmp
        ? type is 0 or 8 or 13 or 14 or 15 or 16 or 17 or 18
        : type is 128 or 129;

    /// <summary>ICMP error types whose payload quotes the offending packet (v4: 3,4,5,11,12; v6: 1-4).</summary>
    public static bool IsIcmpError(byte protocol, byte type) => protocol == IpProtocol.Icmp
        ? type is 3 or 4 or 5 or 11 or 12
        : type is >= 1 and <= 4;

    /// <summary>Reads a 16-byte big-endian value (an IPv6 address).</summary>
    public static UInt128 ReadUInt128(ReadOnlySpan<byte> s) =>
        new(BinaryPrimitives.ReadUInt64BigEndian(s), BinaryPrimitives.ReadUInt64BigEndian(s[8..]));

    /// <summary>Writes a 16-byte big-endian value (an IPv6 address).</summary>
    public static void WriteUInt128(Span<byte> s, UInt128 v)
    {
        BinaryPrimitives.WriteUInt64BigEndian(s, (ulong)(v >> 64));
        BinaryPrimitives.WriteUInt64BigEndian(s[8..], (ulong)v);
    }
}
