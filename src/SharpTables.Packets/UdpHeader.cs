using System.Buffers.Binary;

namespace SharpTables.Packets;

/// <summary>
/// A view of a UDP (or UDP-Lite) header over bytes that start at it (RFC 768):
/// <code>
///  0      7 8     15 16    23 24    31
/// +--------+--------+--------+--------+
/// |     Source      |   Destination   |
/// |      Port       |      Port       |
/// +--------+--------+--------+--------+
/// |     Length      |    Checksum     |
/// +--------+--------+--------+--------+
/// </code>
/// <see cref="TryRead"/> checks that the 8 bytes are there; <see cref="IsValid"/> also checks
/// the length field against the bytes (the check conntrack's <c>udp_error</c> makes).
/// </summary>
public readonly ref struct UdpHeader
{
    /// <summary>Byte offsets of the header fields.</summary>
    public static class Offsets
    {
        /// <summary>Offsets of the fields, from the start of the header.</summary>
        public const int SourcePort = 0, DestinationPort = 2, Length = 4, Checksum = 6;
    }

    /// <summary>The header size.</summary>
    public const int Size = 8;

    private readonly ReadOnlySpan<byte> _b;

    /// <summary>Wraps <paramref name="bytes"/> (starting at the UDP header) without checking them.</summary>
    public UdpHeader(ReadOnlySpan<byte> bytes) => _b = bytes;

    /// <summary>Wraps <paramref name="bytes"/> when the 8-byte header is present.</summary>
    public static bool TryRead(ReadOnlySpan<byte> bytes, out UdpHeader header)
    {
        header = new UdpHeader(bytes);
        return bytes.Length >= Size;
    }

    /// <summary>The header is there and 8 &lt;= length field &lt;= bytes present.</summary>
    public bool IsValid => _b.Length >= Size && Length >= Size && Length <= _b.Length;

    /// <summary>The bytes the view wraps.</summary>
    public ReadOnlySpan<byte> Bytes => _b;
    /// <summary>The source port.</summary>
    public ushort SourcePort => BinaryPrimitives.ReadUInt16BigEndian(_b);
    /// <summary>The destination port.</summary>
    public ushort DestinationPort => BinaryPrimitives.ReadUInt16BigEndian(_b[Offsets.DestinationPort..]);
    /// <summary>Header plus data length (UDP-Lite: checksum coverage).</summary>
    public ushort Length => BinaryPrimitives.ReadUInt16BigEndian(_b[Offsets.Length..]);
    /// <summary>0 means the sender computed none (IPv4 only).</summary>
    public ushort Checksum => BinaryPrimitives.ReadUInt16BigEndian(_b[Offsets.Checksum..]);
    /// <summary>The data after the header, up to the length field, clamped to the bytes present.</summary>
    public ReadOnlySpan<byte> Payload => SpanUtil.Clamp(_b, Size, Length);
}
