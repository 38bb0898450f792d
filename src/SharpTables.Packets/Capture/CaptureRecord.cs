namespace SharpTables.Packets.Capture;

/// <summary>
/// One packet read from a capture file. <see cref="Data"/> points into the reader's reused
/// buffer: it is valid until the next read (copy it to keep it).
/// </summary>
public readonly struct CaptureRecord
{
    /// <summary>Nanoseconds since 1970-01-01 UTC.</summary>
    public long TimestampNanoseconds { get; init; }
    /// <summary>Index of the capture interface (pcapng interface id; 0 for pcap).</summary>
    public int InterfaceIndex { get; init; }
    /// <summary>The interface's name when the file records one (pcapng if_name).</summary>
    public string? InterfaceName { get; init; }
    /// <summary>The link type of the interface the packet was captured on.</summary>
    public LinkType LinkType { get; init; }
    /// <summary>The length of the packet on the wire (may exceed the captured bytes).</summary>
    public int OriginalLength { get; init; }
    /// <summary>The captured bytes, link-layer header included.</summary>
    public ReadOnlyMemory<byte> Data { get; init; }
    /// <summary>The decoded link-layer header.</summary>
    public LinkHeader Link { get; init; }

    /// <summary>The timestamp with 100 ns precision.</summary>
    public DateTimeOffset Timestamp => DateTimeOffset.UnixEpoch.AddTicks(TimestampNanoseconds / 100);
    /// <summary>Fewer bytes were captured than the packet had.</summary>
    public bool IsCaptureTruncated => Data.Length < OriginalLength;
    /// <summary>The IP packet (from the IP header to the end of the captured bytes); empty when the frame carries none.</summary>
    public ReadOnlySpan<byte> IpPacket => Link.NetworkOffset >= 0 ? Data.Span[Link.NetworkOffset..] : default;
    /// <summary>The link-layer header bytes (for Ethernet: destination MAC, source MAC, tags, EtherType).</summary>
    public ReadOnlySpan<byte> LinkHeaderBytes => Data.Span[..Math.Min(Link.HeaderLength, Data.Length)];
    /// <summary>The destination link address (Ethernet destination MAC); empty when the header has none.</summary>
    public ReadOnlySpan<byte> DestinationAddress => Address(Link.DestinationAddressOffset);
    /// <summary>The source link address (Ethernet source MAC, cooked-capture address); empty when none.</summary>
    public ReadOnlySpan<byte> SourceAddress => Address(Link.SourceAddressOffset);

    private ReadOnlySpan<byte> Address(int offset) =>
        offset >= 0 && offset + Link.AddressLength <= Data.Length ? Data.Span.Slice(offset, Link.AddressLength) : default;
}
