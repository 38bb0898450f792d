using System.Buffers.Binary;

namespace SharpTables.Packets;

/// <summary>
/// A view of an ICMP (RFC 792) or ICMPv6 (RFC 4443) message header over bytes that start at
/// it; both share this layout:
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |     Type      |     Code      |          Checksum             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  Identifier / unused / MTU / pointer / gateway (rest of header)|
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |     Data (echo payload, or the quoted packet of an error)     |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// <see cref="TryRead"/> checks that the 8-byte header is there (the kernel's icmp and
/// icmp6 matches read <c>sizeof(struct icmphdr)</c> = 8 bytes). Type constants are in
/// <see cref="IcmpType"/> and <see cref="Icmpv6Type"/>.
/// </summary>
public readonly ref struct IcmpHeader
{
    /// <summary>Byte offsets of the header fields.</summary>
    public static class Offsets
    {
        /// <summary>Offsets of the fields, from the start of the header.</summary>
        public const int Type = 0, Code = 1, Checksum = 2, Rest = 4, Identifier = 4, Sequence = 6, Data = 8;
    }

    /// <summary>The header size.</summary>
    public const int Size = 8;

    private readonly ReadOnlySpan<byte> _b;

    /// <summary>Wraps <paramref name="bytes"/> (starting at the ICMP header) without checking them.</summary>
    public IcmpHeader(ReadOnlySpan<byte> bytes) => _b = bytes;

    /// <summary>Wraps <paramref name="bytes"/> when the 8-byte header is present.</summary>
    public static bool TryRead(ReadOnlySpan<byte> bytes, out IcmpHeader header)
    {
        header = new IcmpHeader(bytes);
        return bytes.Length >= Size;
    }

    /// <summary>The 8-byte header is there.</summary>
    public bool IsValid => _b.Length >= Size;

    /// <summary>The bytes the view wraps.</summary>
    public ReadOnlySpan<byte> Bytes => _b;
    /// <summary>The message type.</summary>
    public byte Type => _b[Offsets.Type];
    /// <summary>The message code.</summary>
    public byte Code => _b[Offsets.Code];
    /// <summary>The checksum as stored.</summary>
    public ushort Checksum => BinaryPrimitives.ReadUInt16BigEndian(_b[Offsets.Checksum..]);
    /// <summary>Echo (and other query) identifier.</summary>
    public ushort Identifier => BinaryPrimitives.ReadUInt16BigEndian(_b[Offsets.Identifier..]);
    /// <summary>Echo (and other query) sequence number.</summary>
    public ushort Sequence => BinaryPrimitives.ReadUInt16BigEndian(_b[Offsets.Sequence..]);
    /// <summary>The second 32-bit word: unused, gateway (redirect), pointer, or MTU, by type.</summary>
    public uint RestOfHeader => BinaryPrimitives.ReadUInt32BigEndian(_b[Offsets.Rest..]);
    /// <summary>ICMP "fragmentation needed" (3/4): the next-hop MTU in the low 16 bits.</summary>
    public ushort NextHopMtu => (ushort)RestOfHeader;
    /// <summary>ICMP parameter problem (12): the pointer byte.</summary>
    public byte Pointer => _b[Offsets.Rest];
    /// <summary>The message body after the 8-byte header: the echo data, or for an error the quoted packet.</summary>
    public ReadOnlySpan<byte> Data => SpanUtil.Clamp(_b, Size, _b.Length);
}

/// <summary>ICMP (v4) message types.</summary>
public static class IcmpType
{
    /// <summary>ICMP type numbers (RFC 792 and successors).</summary>
    public const byte EchoReply = 0, DestinationUnreachable = 3, SourceQuench = 4, Redirect = 5, EchoRequest = 8,
        RouterAdvertisement = 9, RouterSolicitation = 10, TimeExceeded = 11, ParameterProblem = 12,
        Timestamp = 13, TimestampReply = 14, InfoRequest = 15, InfoReply = 16, AddressMaskRequest = 17, AddressMaskReply = 18;
}

/// <summary>ICMPv6 message types (the rest of header is a 32-bit MTU for Packet Too Big, a pointer for Parameter Problem).</summary>
public static class Icmpv6Type
{
    /// <summary>ICMPv6 type numbers (RFC 4443, RFC 4861).</summary>
    public const byte DestinationUnreachable = 1, PacketTooBig = 2, TimeExceeded = 3, ParameterProblem = 4,
        EchoRequest = 128, EchoReply = 129, RouterSolicitation = 133, RouterAdvertisement = 134,
        NeighborSolicitation = 135, NeighborAdvertisement = 136, Redirect = 137;
}
