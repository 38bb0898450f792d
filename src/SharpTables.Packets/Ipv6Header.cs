using System.Buffers.Binary;

namespace SharpTables.Packets;

/// <summary>
/// A view of an IPv6 header over bytes that start at it (RFC 8200):
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version| Traffic Class |           Flow Label                  |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |         Payload Length        |  Next Header  |   Hop Limit   |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                   Source Address (128 bits)                   |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                Destination Address (128 bits)                 |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// <see cref="TryRead"/> checks that the 40 bytes are there and the version is 6;
/// <see cref="IsValid"/> also checks that the payload is all there. <see cref="ExtensionHeaders"/>
/// walks the extension headers the way the kernel's <c>ipv6_find_hdr</c> does.
/// </summary>
public readonly ref struct Ipv6Header
{
    /// <summary>Byte offsets of the header fields.</summary>
    public static class Offsets
    {
        /// <summary>Offsets of the fields, from the start of the header.</summary>
        public const int VersionClassFlow = 0, PayloadLength = 4, NextHeader = 6, HopLimit = 7, Source = 8, Destination = 24;
    }

    /// <summary>The fixed header size.</summary>
    public const int Size = 40;

    private readonly ReadOnlySpan<byte> _b;

    /// <summary>Wraps <paramref name="bytes"/> (starting at the IPv6 header) without checking them.</summary>
    public Ipv6Header(ReadOnlySpan<byte> bytes) => _b = bytes;

    /// <summary>Wraps <paramref name="bytes"/> when the 40-byte header is present and the version is 6.</summary>
    public static bool TryRead(ReadOnlySpan<byte> bytes, out Ipv6Header header)
    {
        header = new Ipv6Header(bytes);
        return bytes.Length >= Size && bytes[0] >> 4 == 6;
    }

    /// <summary>Version 6 and the whole payload (as the payload length states it) is present.</summary>
    public bool IsValid => _b.Length >= Size && Version == 6 && TotalLength <= _b.Length;

    /// <summary>The bytes the view wraps.</summary>
    public ReadOnlySpan<byte> Bytes => _b;
    /// <summary>The version nibble (6 for a valid header).</summary>
    public int Version => _b[0] >> 4;
    /// <summary>The traffic class byte (DSCP and ECN).</summary>
    public byte TrafficClass => (byte)(BinaryPrimitives.ReadUInt32BigEndian(_b) >> 20);
    /// <summary>The 20-bit flow label.</summary>
    public uint FlowLabel => BinaryPrimitives.ReadUInt32BigEndian(_b) & 0xfffff;
    /// <summary>Bytes after the fixed header, extension headers included.</summary>
    public ushort PayloadLength => BinaryPrimitives.ReadUInt16BigEndian(_b[Offsets.PayloadLength..]);
    /// <summary>40 + payload length.</summary>
    public int TotalLength => Size + PayloadLength;
    /// <summary>The header that follows this one (an extension header or the upper-layer protocol).</summary>
    public byte NextHeader => _b[Offsets.NextHeader];
    /// <summary>The hop limit.</summary>
    public byte HopLimit => _b[Offsets.HopLimit];
    /// <summary>The source address.</summary>
    public UInt128 Source => PacketParser.ReadUInt128(_b[Offsets.Source..]);
    /// <summary>The destination address.</summary>
    public UInt128 Destination => PacketParser.ReadUInt128(_b[Offsets.Destination..]);

    /// <summary>The payload (extension headers included), clamped to the bytes present.</summary>
    public ReadOnlySpan<byte> Payload => SpanUtil.Clamp(_b, Size, TotalLength);

    /// <summary>Walks the extension headers; the walk is bounded by the payload length and the bytes present.</summary>
    public Ipv6ExtensionHeaderEnumerator ExtensionHeaders => new(_b[..Math.Min(TotalLength, _b.Length)]);

    /// <summary>
    /// The headers <c>ipv6_find_hdr</c> skips to reach the upper-layer protocol: hop-by-hop,
    /// routing, fragment, AH and destination options. The mobility header (135) is not one:
    /// the kernel reports it as the protocol (<c>ip6tables -p mh</c> matches it).
    /// </summary>
    public static bool IsExtensionHeader(byte nextHeader) => nextHeader is IpProtocol.HopByHop or IpProtocol.Routing
        or IpProtocol.Fragment or IpProtocol.Ah or IpProtocol.DestinationOptions;
}

/// <summary>
/// One IPv6 extension header found by <see cref="Ipv6ExtensionHeaderEnumerator"/>:
/// <code>
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  Next Header  |  Hdr Ext Len  |  (fragment: Offset, Res, M)   |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |          options / routing data / (fragment: Identification)  |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// Length is (Hdr Ext Len + 1) * 8, for AH (Hdr Ext Len + 2) * 4, for a fragment header 8.
/// </summary>
public readonly ref struct Ipv6ExtensionHeader
{
    private readonly ReadOnlySpan<byte> _b;

    internal Ipv6ExtensionHeader(byte type, int offset, int length, ReadOnlySpan<byte> bytes)
    {
        Type = type;
        Offset = offset;
        Length = length;
        _b = bytes;
    }

    /// <summary>The protocol number of this header (0 hop-by-hop, 43 routing, 44 fragment, 51 AH, 60 destination options).</summary>
    public byte Type { get; }
    /// <summary>Offset of this header from the start of the IPv6 header.</summary>
    public int Offset { get; }
    /// <summary>The header's length as it declares it.</summary>
    public int Length { get; }
    /// <summary>The header's bytes, clamped to the bytes present (at least the first two).</summary>
    public ReadOnlySpan<byte> Bytes => _b;
    /// <summary>The header that follows this one.</summary>
    public byte NextHeader => _b[0];
    /// <summary>Fragment header: offset in 8-byte units.</summary>
    public ushort FragmentOffset => (ushort)(BinaryPrimitives.ReadUInt16BigEndian(_b[2..]) >> 3);
    /// <summary>Fragment header: the M (more fragments) bit.</summary>
    public bool MoreFragments => (_b[3] & 1) != 0;
    /// <summary>Fragment header: the identification, or 0 when the header is cut short.</summary>
    public uint FragmentId => _b.Length >= 8 ? BinaryPrimitives.ReadUInt32BigEndian(_b[4..]) : 0;
}

/// <summary>
/// Walks IPv6 extension headers as the kernel's <c>ipv6_find_hdr(skb, &amp;off, -1, &amp;fragoff, NULL)</c>
/// does: it stops at the first header that is not an extension header (or "no next header"),
/// at a non-first fragment, or at a header that is not all there. Afterwards
/// <see cref="NextHeader"/> and <see cref="Offset"/> give the upper-layer protocol and where it starts.
/// </summary>
public ref struct Ipv6ExtensionHeaderEnumerator
{
    private readonly ReadOnlySpan<byte> _p;
    private Ipv6ExtensionHeader _current;
    private bool _done;

    /// <summary>Starts the walk over <paramref name="packet"/>, an IPv6 packet already bounded by its payload length.</summary>
    public Ipv6ExtensionHeaderEnumerator(ReadOnlySpan<byte> packet)
    {
        _p = packet;
        _current = default;
        _done = packet.Length < Ipv6Header.Size;
        NextHeader = packet.Length > Ipv6Header.Offsets.NextHeader ? packet[Ipv6Header.Offsets.NextHeader] : IpProtocol.NoNext;
        Offset = Ipv6Header.Size;
        Truncated = _done;
        NonFirstFragment = false;
    }

    /// <summary>The header the walk stands before: after the walk, the upper-layer protocol.</summary>
    public byte NextHeader { get; private set; }
    /// <summary>Offset of the header named by <see cref="NextHeader"/>; may lie past the end when a header overstates its length.</summary>
    public int Offset { get; private set; }
    /// <summary>The walk stopped because an extension header was not all there.</summary>
    public bool Truncated { get; private set; }
    /// <summary>The walk stopped at a fragment header with a non-zero offset: what follows is not a header.</summary>
    public bool NonFirstFragment { get; private set; }
    /// <summary>The extension header just walked over.</summary>
    public readonly Ipv6ExtensionHeader Current => _current;

    /// <summary>Enables <c>foreach</c>.</summary>
    public readonly Ipv6ExtensionHeaderEnumerator GetEnumerator() => this;

    /// <summary>Steps over the next extension header; false when the walk has ended.</summary>
    public bool MoveNext()
    {
        if (_done || !Ipv6Header.IsExtensionHeader(NextHeader)) { _done = true; return false; }
        int off = Offset;
        byte type = NextHeader;
        // ipv6_find_hdr reads the two-byte next/length pair, and for a fragment the offset word.
        int need = type == IpProtocol.Fragment ? 4 : 2;
        if (off > _p.Length - need) { Truncated = true; _done = true; return false; }
        int length = type switch
        {
            IpProtocol.Fragment => 8,
            IpProtocol.Ah => (_p[off + 1] + 2) * 4,
            _ => (_p[off + 1] + 1) * 8,
        };
        _current = new Ipv6ExtensionHeader(type, off, length, _p[off..Math.Min(off + length, _p.Length)]);
        NextHeader = _p[off];
        Offset = off + length;
        if (type == IpProtocol.Fragment && _current.FragmentOffset != 0)
        {
            NonFirstFragment = true;
            _done = true;
        }
        return true;
    }
}
