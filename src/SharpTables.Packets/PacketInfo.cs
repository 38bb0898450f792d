namespace SharpTables.Packets;

/// <summary>What the parser found wrong or notable about a packet; several can be set.</summary>
[Flags]
public enum PacketFlags : ushort
{
    None = 0,
    /// <summary>The bytes end before the headers say they should (captured short, or cut; for IPv6 also an extension header that runs past the payload).</summary>
    Truncated = 1 << 0,
    /// <summary>The network header is unusable: bad version, IHL &lt; 5, total length &lt; header length.</summary>
    BadNetworkHeader = 1 << 1,
    /// <summary>A non-first fragment (IPv4 offset != 0, or IPv6 fragment header with offset != 0): no transport header.</summary>
    Fragment = 1 << 2,
    /// <summary>The IPv4 MF bit or the IPv6 fragment header's M bit.</summary>
    MoreFragments = 1 << 3,
    DontFragment = 1 << 4,
    /// <summary>The transport header is not complete in the packet (the kernel's tcp/udp matches hot-drop these).</summary>
    TransportTruncated = 1 << 5,
    /// <summary>The transport header is malformed (TCP data offset &lt; 5 or beyond the packet).</summary>
    BadTransportHeader = 1 << 6,
    /// <summary>IPv6 packet with a fragment header (first or not).</summary>
    HasFragmentHeader = 1 << 7,
    /// <summary>IPv4 header has options (IHL &gt; 5).</summary>
    HasIpOptions = 1 << 8,
}

/// <summary>
/// A packet parsed once, the way pf's <c>pf_pdesc</c> is: every rule test reads these fields
/// instead of re-parsing the bytes. The bytes start at the IP header. IPv4 addresses sit in the
/// low 32 bits of the <see cref="UInt128"/> fields (host order), as in the rule model.
/// Filled by <see cref="PacketParser.Parse"/>; a plain struct, so parsing allocates nothing.
/// </summary>
public struct PacketInfo
{
    /// <summary>4 or 6; 0 when the bytes are not an IP packet at all.</summary>
    public byte Version;
    public PacketFlags Flags;
    /// <summary>Bytes actually present (may be less than <see cref="TotalLength"/> when truncated).</summary>
    public int Length;
    /// <summary>The IP total length as the header states it (IPv6: 40 + payload length).</summary>
    public int TotalLength;
    /// <summary>IPv4 header length (IHL*4); IPv6: 40 (extension headers are counted in <see cref="TransportOffset"/>).</summary>
    public int HeaderLength;
    public UInt128 Source;
    public UInt128 Destination;
    /// <summary>The upper-layer protocol: IPv4 protocol field, or the IPv6 next header after the extension headers.</summary>
    public byte Protocol;
    /// <summary>IPv4 TTL or IPv6 hop limit.</summary>
    public byte Ttl;
    /// <summary>IPv4 TOS byte or IPv6 traffic class.</summary>
    public byte Tos;
    /// <summary>IPv4 identification.</summary>
    public ushort Id;
    /// <summary>IPv6 flow label (20 bits).</summary>
    public uint FlowLabel;
    /// <summary>Fragment offset in 8-byte units (IPv4 header or IPv6 fragment header).</summary>
    public ushort FragmentOffset;
    /// <summary>IPv6 fragment header identification.</summary>
    public uint FragmentId;
    /// <summary>Offset of the transport header from the start of the packet; -1 when there is none (fragment, unknown).</summary>
    public int TransportOffset;

    public ushort SourcePort;
    public ushort DestinationPort;
    /// <summary>TCP flags byte: FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10 URG 0x20 ECE 0x40 CWR 0x80.</summary>
    public byte TcpFlags;
    /// <summary>The 4 reserved bits between data offset and flags (the LOG target prints them as RES=).</summary>
    public byte TcpReserved;
    /// <summary>TCP data offset in 32-bit words.</summary>
    public byte TcpDataOffset;
    public uint TcpSequence;
    public uint TcpAcknowledgment;
    public ushort TcpWindow;
    public ushort TcpUrgentPointer;

    public byte IcmpType;
    public byte IcmpCode;
    /// <summary>Echo identifier (ICMP/ICMPv6 echo request/reply); 0 otherwise.</summary>
    public ushort IcmpId;
    public ushort IcmpSequence;

    public readonly bool IsIPv4 => Version == 4;
    public readonly bool IsIPv6 => Version == 6;
    /// <summary>A non-first fragment: iptables' <c>-f</c> matches these.</summary>
    public readonly bool IsFragment => (Flags & PacketFlags.Fragment) != 0;
    public readonly bool HasTransportHeader => TransportOffset >= 0 && (Flags & (PacketFlags.TransportTruncated | PacketFlags.BadTransportHeader)) == 0;
}

/// <summary>IP protocol numbers the engine cares about.</summary>
public static class IpProtocol
{
    public const byte Icmp = 1;
    public const byte Igmp = 2;
    public const byte Tcp = 6;
    public const byte Udp = 17;
    public const byte Gre = 47;
    public const byte Esp = 50;
    public const byte Ah = 51;
    public const byte Icmpv6 = 58;
    public const byte Sctp = 132;
    public const byte UdpLite = 136;
    public const byte Dccp = 33;
    public const byte HopByHop = 0;
    public const byte Routing = 43;
    public const byte Fragment = 44;
    public const byte NoNext = 59;
    public const byte DestinationOptions = 60;
    public const byte Mobility = 135;
}

/// <summary>TCP flag bits as they appear in the header's flags byte.</summary>
public static class TcpFlagBits
{
    public const byte Fin = 0x01, Syn = 0x02, Rst = 0x04, Psh = 0x08, Ack = 0x10, Urg = 0x20, Ece = 0x40, Cwr = 0x80;
}
