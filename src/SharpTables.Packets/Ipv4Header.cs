using System.Buffers.Binary;

namespace SharpTables.Packets;

/// <summary>
/// A view of an IPv4 header over bytes that start at it (RFC 791):
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version|  IHL  |Type of Service|          Total Length         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |         Identification        |Flags|      Fragment Offset    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  Time to Live |    Protocol   |         Header Checksum       |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                       Source Address                          |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Destination Address                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Options                    |    Padding    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// Construct it (or use <see cref="TryRead"/>, which checks that the fixed 20 bytes are there
/// and the version is 4) before using the fixed-field accessors; <see cref="IsValid"/> checks
/// every length. <see cref="Options"/> and <see cref="Payload"/> are clamped to the bytes
/// present, so they never throw.
/// </summary>
public readonly ref struct Ipv4Header
{
    /// <summary>Byte offsets of the header fields.</summary>
    public static class Offsets
    {
        /// <summary>Offsets of the fields, from the start of the header.</summary>
        public const int VersionIhl = 0, Tos = 1, TotalLength = 2, Id = 4, FlagsFragment = 6, Ttl = 8,
            Protocol = 9, Checksum = 10, Source = 12, Destination = 16, Options = 20;
    }

    /// <summary>The header without options.</summary>
    public const int MinimumSize = 20;
    /// <summary>Bits of the flags/fragment-offset word.</summary>
    public const ushort ReservedFlag = 0x8000, DontFragmentFlag = 0x4000, MoreFragmentsFlag = 0x2000, FragmentOffsetMask = 0x1fff;

    private readonly ReadOnlySpan<byte> _b;

    /// <summary>Wraps <paramref name="bytes"/> (starting at the IPv4 header) without checking them.</summary>
    public Ipv4Header(ReadOnlySpan<byte> bytes) => _b = bytes;

    /// <summary>Wraps <paramref name="bytes"/> when the fixed header is present and the version is 4.</summary>
    public static bool TryRead(ReadOnlySpan<byte> bytes, out Ipv4Header header)
    {
        header = new Ipv4Header(bytes);
        return bytes.Length >= MinimumSize && bytes[0] >> 4 == 4;
    }

    /// <summary>
    /// The header is well formed and the datagram is all there: version 4, IHL at least 5,
    /// header length &lt;= total length &lt;= bytes present (gVisor's <c>IPv4.IsValid</c>).
    /// </summary>
    public bool IsValid => _b.Length >= MinimumSize && Version == 4 && HeaderLength >= MinimumSize
        && HeaderLength <= TotalLength && TotalLength <= _b.Length;

    /// <summary>The bytes the view wraps.</summary>
    public ReadOnlySpan<byte> Bytes => _b;
    /// <summary>The version nibble (4 for a valid header).</summary>
    public int Version => _b[Offsets.VersionIhl] >> 4;
    /// <summary>IHL in bytes (IHL * 4).</summary>
    public int HeaderLength => (_b[Offsets.VersionIhl] & 0x0f) * 4;
    /// <summary>The type-of-service byte (DSCP and ECN).</summary>
    public byte Tos => _b[Offsets.Tos];
    /// <summary>The DSCP (upper six bits of the TOS byte).</summary>
    public byte Dscp => (byte)(_b[Offsets.Tos] >> 2);
    /// <summary>The ECN codepoint (lower two bits of the TOS byte).</summary>
    public byte Ecn => (byte)(_b[Offsets.Tos] & 3);
    /// <summary>The datagram length, header included.</summary>
    public ushort TotalLength => BinaryPrimitives.ReadUInt16BigEndian(_b[Offsets.TotalLength..]);
    /// <summary>The identification field.</summary>
    public ushort Id => BinaryPrimitives.ReadUInt16BigEndian(_b[Offsets.Id..]);
    /// <summary>The 16-bit flags and fragment-offset word.</summary>
    public ushort FlagsFragment => BinaryPrimitives.ReadUInt16BigEndian(_b[Offsets.FlagsFragment..]);
    /// <summary>Fragment offset in 8-byte units.</summary>
    public ushort FragmentOffset => (ushort)(FlagsFragment & FragmentOffsetMask);
    /// <summary>The DF flag.</summary>
    public bool DontFragment => (FlagsFragment & DontFragmentFlag) != 0;
    /// <summary>The MF flag.</summary>
    public bool MoreFragments => (FlagsFragment & MoreFragmentsFlag) != 0;
    /// <summary>The reserved ("evil") flag bit.</summary>
    public bool Reserved => (FlagsFragment & ReservedFlag) != 0;
    /// <summary>Part of a fragmented datagram: MF set or a non-zero offset.</summary>
    public bool IsFragment => (FlagsFragment & (MoreFragmentsFlag | FragmentOffsetMask)) != 0;
    /// <summary>Time to live.</summary>
    public byte Ttl => _b[Offsets.Ttl];
    /// <summary>The upper-layer protocol number.</summary>
    public byte Protocol => _b[Offsets.Protocol];
    /// <summary>The header checksum as stored.</summary>
    public ushort Checksum => BinaryPrimitives.ReadUInt16BigEndian(_b[Offsets.Checksum..]);
    /// <summary>Source address, host order.</summary>
    public uint Source => BinaryPrimitives.ReadUInt32BigEndian(_b[Offsets.Source..]);
    /// <summary>Destination address, host order.</summary>
    public uint Destination => BinaryPrimitives.ReadUInt32BigEndian(_b[Offsets.Destination..]);

    /// <summary>The option bytes (between the fixed header and IHL*4), clamped to the bytes present.</summary>
    public ReadOnlySpan<byte> Options => SpanUtil.Clamp(_b, MinimumSize, HeaderLength);

    /// <summary>The datagram's payload: from IHL*4 to the total length, clamped to the bytes present.</summary>
    public ReadOnlySpan<byte> Payload => SpanUtil.Clamp(_b, HeaderLength, TotalLength);

    /// <summary>The header checksum is right (the header must be present; see <see cref="IsValid"/>).</summary>
    public bool IsChecksumValid => HeaderLength >= MinimumSize && HeaderLength <= _b.Length
        && Packets.Checksum.Compute(_b[..HeaderLength]) == 0;
}
