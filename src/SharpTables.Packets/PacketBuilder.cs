using System.Buffers.Binary;

namespace SharpTables.Packets;

/// <summary>How much of the offending packet an ICMP error built by <see cref="PacketBuilder"/> quotes.</summary>
public enum IcmpQuote
{
    /// <summary>IPv4: the IP header + 8 bytes (RFC 792); IPv6: as much as fits in 1280 bytes (RFC 4443).</summary>
    Auto,
    /// <summary>The quoted packet's IP header (IPv6: the 40-byte header) + 8 bytes, as the oracle's scenario format builds it.</summary>
    HeaderPlus8,
    /// <summary>As much as fits in 576 bytes (IPv4, the kernel's <c>icmp_send</c>) or 1280 bytes (IPv6, <c>icmp6_send</c>).</summary>
    FitMinimumMtu,
}

/// <summary>
/// Builds an IPv4 or IPv6 packet with a TCP, UDP, ICMP or ICMPv6 header (or any other protocol
/// with a raw payload), with correct lengths and checksums, laid out field for field as scapy's
/// <c>IP()/TCP()</c>, <c>IPv6()/UDP()</c>, ... would for the same values (options and padding
/// included). Set the fields, then <see cref="Write"/> into a buffer (no allocation) or call
/// <see cref="ToArray"/>. A new builder starts with scapy's defaults: TTL/hop limit 64,
/// IPv4 id 1, TCP window 8192; every other field is 0 or empty.
/// Addresses follow <see cref="PacketInfo"/>: an IPv4 address sits in the low 32 bits, host order.
/// </summary>
public ref struct PacketBuilder
{
    /// <summary>A builder with scapy's defaults.</summary>
    public PacketBuilder() { }

    /// <summary>Build an IPv6 packet instead of IPv4.</summary>
    public bool Ipv6;
    /// <summary>Source address (IPv4 in the low 32 bits).</summary>
    public UInt128 Source;
    /// <summary>Destination address (IPv4 in the low 32 bits).</summary>
    public UInt128 Destination;
    /// <summary>The upper-layer protocol (IPv4 protocol / IPv6 next header after the extension headers).</summary>
    public byte Protocol;
    /// <summary>IPv4 TTL or IPv6 hop limit.</summary>
    public byte Ttl = 64;
    /// <summary>IPv4 TOS or IPv6 traffic class.</summary>
    public byte Tos;

    /// <summary>IPv4 identification.</summary>
    public ushort Id = 1;
    /// <summary>IPv4 flag bits.</summary>
    public bool DontFragment, MoreFragments, ReservedFlag;
    /// <summary>IPv4 fragment offset in 8-byte units.</summary>
    public ushort FragmentOffset;
    /// <summary>IPv4 option bytes; padded with zeros to a multiple of 4.</summary>
    public ReadOnlySpan<byte> Ipv4Options;

    /// <summary>IPv6 flow label (20 bits).</summary>
    public uint FlowLabel;
    /// <summary>
    /// IPv6 extension headers placed after the fixed header, each with its own next-header byte
    /// naming the header after it; the builder sets the last one's to <see cref="Protocol"/>.
    /// <see cref="Ipv6ExtensionHeaderType"/> names the first. <see cref="WriteIpv6FragmentHeader"/> makes a fragment header.
    /// </summary>
    public ReadOnlySpan<byte> Ipv6ExtensionHeaders;
    /// <summary>The type (protocol number) of the first header in <see cref="Ipv6ExtensionHeaders"/>.</summary>
    public byte Ipv6ExtensionHeaderType;

    /// <summary>TCP/UDP source port.</summary>
    public ushort SourcePort;
    /// <summary>TCP/UDP destination port.</summary>
    public ushort DestinationPort;
    /// <summary>TCP flags byte (<see cref="TcpFlagBits"/>).</summary>
    public byte TcpFlags;
    /// <summary>The 4 reserved bits after the TCP data offset.</summary>
    public byte TcpReserved;
    /// <summary>TCP sequence number.</summary>
    public uint Sequence;
    /// <summary>TCP acknowledgment number (scapy, like this builder, does not set it for you).</summary>
    public uint Acknowledgment;
    /// <summary>TCP window (scapy's default 8192).</summary>
    public ushort Window = 8192;
    /// <summary>TCP urgent pointer.</summary>
    public ushort UrgentPointer;
    /// <summary>TCP options as raw bytes; written before <see cref="TcpOptionList"/>, both padded with zeros (EOL) to a multiple of 4.</summary>
    public ReadOnlySpan<byte> TcpOptions;
    /// <summary>TCP options as (kind, value) entries, like scapy's <c>options=[("MSS",1460),("SAckOK",b""),...]</c>.</summary>
    public ReadOnlySpan<TcpOptionSpec> TcpOptionList;

    /// <summary>ICMP/ICMPv6 type.</summary>
    public byte IcmpType;
    /// <summary>ICMP/ICMPv6 code.</summary>
    public byte IcmpCode;
    /// <summary>First 16-bit word of the ICMP rest of header: echo identifier (0 "unused" for most errors).</summary>
    public ushort IcmpId;
    /// <summary>Second 16-bit word: echo sequence, or the next-hop MTU of an IPv4 "fragmentation needed".</summary>
    public ushort IcmpSequence;
    /// <summary>The offending packet an ICMP/ICMPv6 error quotes (bytes from its IP header); goes before <see cref="Payload"/>.</summary>
    public ReadOnlySpan<byte> Quote;
    /// <summary>How much of <see cref="Quote"/> goes into the message.</summary>
    public IcmpQuote QuotePolicy;

    /// <summary>
    /// Name <see cref="Protocol"/> in the IP header but write no transport header: the payload
    /// follows the IP header (a non-first fragment, as scapy's <c>IP(frag=5, proto=6)/Raw(...)</c>).
    /// </summary>
    public bool OmitTransportHeader;
    /// <summary>The data after the transport header (for other protocols, after the IP header).</summary>
    public ReadOnlySpan<byte> Payload;
    /// <summary>When larger than the built packet, zero bytes are appended (as payload) to reach this IP total length.</summary>
    public int TotalLength;

    /// <summary>The whole 32-bit ICMP rest of header (<see cref="IcmpId"/>:<see cref="IcmpSequence"/>), e.g. the ICMPv6 Packet Too Big MTU.</summary>
    public uint IcmpRestOfHeader
    {
        readonly get => (uint)IcmpId << 16 | IcmpSequence;
        set { IcmpId = (ushort)(value >> 16); IcmpSequence = (ushort)value; }
    }

    /// <summary>The number of bytes <see cref="Write"/> produces.</summary>
    public readonly int Length => UnpaddedLength + Padding;

    private readonly int NetworkHeaderLength => Ipv6 ? Ipv6Header.Size + Ipv6ExtensionHeaders.Length : Ipv4Header.MinimumSize + Pad4(Ipv4Options.Length);

    private readonly int TransportHeaderLength => OmitTransportHeader ? 0 : Protocol switch
    {
        IpProtocol.Tcp => TcpHeader.MinimumSize + Pad4(TcpOptions.Length + TcpOptionSpec.Length(TcpOptionList)),
        IpProtocol.Udp => UdpHeader.Size,
        IpProtocol.Icmp or IpProtocol.Icmpv6 => IcmpHeader.Size,
        _ => 0,
    };

    private readonly int UnpaddedLength => NetworkHeaderLength + TransportHeaderLength + QuoteLength + Payload.Length;
    private readonly int Padding => Math.Max(0, TotalLength - UnpaddedLength);

    private readonly int QuoteLength
    {
        get
        {
            if (Quote.IsEmpty || OmitTransportHeader || Protocol is not (IpProtocol.Icmp or IpProtocol.Icmpv6)) return 0;
            var policy = QuotePolicy == IcmpQuote.Auto ? (Ipv6 ? IcmpQuote.FitMinimumMtu : IcmpQuote.HeaderPlus8) : QuotePolicy;
            int limit = policy == IcmpQuote.HeaderPlus8
                ? (Quote[0] >> 4 == 6 ? Ipv6Header.Size : (Quote[0] & 0x0f) * 4) + 8
                : (Ipv6 ? 1280 : 576) - NetworkHeaderLength - IcmpHeader.Size - Payload.Length;
            return Math.Clamp(limit, 0, Quote.Length);
        }
    }

    /// <summary>Writes the packet to the start of <paramref name="destination"/> and returns its length.</summary>
    /// <exception cref="ArgumentException">The buffer is too small, the options do not fit their header, or an IPv4 packet would exceed 65535 bytes.</exception>
    public readonly int Write(Span<byte> destination)
    {
        int total = Length;
        if (destination.Length < total) throw new ArgumentException($"the packet needs {total} bytes, the buffer has {destination.Length}", nameof(destination));
        if (total > 65535 + (Ipv6 ? Ipv6Header.Size : 0)) throw new ArgumentException($"a {total}-byte packet does not fit the IP length field");
        if (Protocol == IpProtocol.Tcp && TransportHeaderLength > TcpHeader.MaximumSize)
            throw new ArgumentException($"TCP options take {TransportHeaderLength - TcpHeader.MinimumSize} bytes, at most 40 fit");
        int lastExtension = Ipv6 && !Ipv6ExtensionHeaders.IsEmpty ? LastExtensionHeaderOffset() : -1;
        var p = destination[..total];
        p.Clear();
        int l4 = WriteNetworkHeader(p, total, lastExtension);
        int data = l4 + TransportHeaderLength;
        Quote[..QuoteLength].CopyTo(p[data..]);
        Payload.CopyTo(p[(data + QuoteLength)..]);
        if (!OmitTransportHeader) WriteTransportHeader(p[l4..]);
        if (!Ipv6) Checksum.SetIpv4Header(p);
        return total;
    }

    /// <summary>Builds the packet into a new array.</summary>
    public readonly byte[] ToArray()
    {
        var bytes = new byte[Length];
        Write(bytes);
        return bytes;
    }

    /// <summary>Writes an 8-byte IPv6 fragment header (next header 0, for the builder to fill) and returns 8.</summary>
    public static int WriteIpv6FragmentHeader(Span<byte> destination, ushort fragmentOffset, bool moreFragments, uint identification)
    {
        destination[..8].Clear();
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)(fragmentOffset << 3 | (moreFragments ? 1 : 0)));
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], identification);
        return 8;
    }

    /// <summary>Writes the IP header (and IPv6 extension headers); returns the transport offset.</summary>
    private readonly int WriteNetworkHeader(Span<byte> p, int total, int lastExtension)
    {
        if (Ipv6)
        {
            BinaryPrimitives.WriteUInt32BigEndian(p, 6u << 28 | (uint)Tos << 20 | (FlowLabel & 0xfffff));
            BinaryPrimitives.WriteUInt16BigEndian(p[Ipv6Header.Offsets.PayloadLength..], (ushort)(total - Ipv6Header.Size));
            p[Ipv6Header.Offsets.NextHeader] = Ipv6ExtensionHeaders.IsEmpty ? Protocol : Ipv6ExtensionHeaderType;
            p[Ipv6Header.Offsets.HopLimit] = Ttl;
            PacketParser.WriteUInt128(p[Ipv6Header.Offsets.Source..], Source);
            PacketParser.WriteUInt128(p[Ipv6Header.Offsets.Destination..], Destination);
            if (lastExtension >= 0)
            {
                Ipv6ExtensionHeaders.CopyTo(p[Ipv6Header.Size..]);
                p[Ipv6Header.Size + lastExtension] = Protocol;
            }
            return Ipv6Header.Size + Ipv6ExtensionHeaders.Length;
        }
        int hl = NetworkHeaderLength;
        p[0] = (byte)(0x40 | hl / 4);
        p[Ipv4Header.Offsets.Tos] = Tos;
        BinaryPrimitives.WriteUInt16BigEndian(p[Ipv4Header.Offsets.TotalLength..], (ushort)total);
        BinaryPrimitives.WriteUInt16BigEndian(p[Ipv4Header.Offsets.Id..], Id);
        int frag = (FragmentOffset & Ipv4Header.FragmentOffsetMask) | (ReservedFlag ? Ipv4Header.ReservedFlag : 0)
            | (DontFragment ? Ipv4Header.DontFragmentFlag : 0) | (MoreFragments ? Ipv4Header.MoreFragmentsFlag : 0);
        BinaryPrimitives.WriteUInt16BigEndian(p[Ipv4Header.Offsets.FlagsFragment..], (ushort)frag);
        p[Ipv4Header.Offsets.Ttl] = Ttl;
        p[Ipv4Header.Offsets.Protocol] = Protocol;
        BinaryPrimitives.WriteUInt32BigEndian(p[Ipv4Header.Offsets.Source..], (uint)Source);
        BinaryPrimitives.WriteUInt32BigEndian(p[Ipv4Header.Offsets.Destination..], (uint)Destination);
        Ipv4Options.CopyTo(p[Ipv4Header.Offsets.Options..]);
        return hl;
    }

    /// <summary>Offset (within the extension block) of the last extension header, found by walking their lengths.</summary>
    private readonly int LastExtensionHeaderOffset()
    {
        var e = Ipv6ExtensionHeaders;
        byte type = Ipv6ExtensionHeaderType;
        int off = 0;
        while (true)
        {
            if (!Ipv6Header.IsExtensionHeader(type) || off + 2 > e.Length)
                throw new ArgumentException("Ipv6ExtensionHeaders is not a chain of extension headers starting with Ipv6ExtensionHeaderType");
            int len = type == IpProtocol.Fragment ? 8 : type == IpProtocol.Ah ? (e[off + 1] + 2) * 4 : (e[off + 1] + 1) * 8;
            if (off + len == e.Length) return off;
            type = e[off];
            off += len;
        }
    }

    /// <summary>Fills the transport header over <paramref name="t"/> (the segment with its data already in place) and its checksum.</summary>
    private readonly void WriteTransportHeader(Span<byte> t)
    {
        switch (Protocol)
        {
            case IpProtocol.Tcp:
            {
                int hl = TransportHeaderLength;
                BinaryPrimitives.WriteUInt16BigEndian(t, SourcePort);
                BinaryPrimitives.WriteUInt16BigEndian(t[TcpHeader.Offsets.DestinationPort..], DestinationPort);
                BinaryPrimitives.WriteUInt32BigEndian(t[TcpHeader.Offsets.Sequence..], Sequence);
                BinaryPrimitives.WriteUInt32BigEndian(t[TcpHeader.Offsets.Acknowledgment..], Acknowledgment);
                t[TcpHeader.Offsets.DataOffset] = (byte)(hl / 4 << 4 | (TcpReserved & 0x0f));
                t[TcpHeader.Offsets.Flags] = TcpFlags;
                BinaryPrimitives.WriteUInt16BigEndian(t[TcpHeader.Offsets.Window..], Window);
                BinaryPrimitives.WriteUInt16BigEndian(t[TcpHeader.Offsets.UrgentPointer..], UrgentPointer);
                TcpOptions.CopyTo(t[TcpHeader.Offsets.Options..]);
                TcpOptionSpec.Write(t[(TcpHeader.Offsets.Options + TcpOptions.Length)..hl], TcpOptionList);
                SetChecksum(t, TcpHeader.Offsets.Checksum, pseudo: true);
                break;
            }
            case IpProtocol.Udp:
                BinaryPrimitives.WriteUInt16BigEndian(t, SourcePort);
                BinaryPrimitives.WriteUInt16BigEndian(t[UdpHeader.Offsets.DestinationPort..], DestinationPort);
                BinaryPrimitives.WriteUInt16BigEndian(t[UdpHeader.Offsets.Length..], (ushort)t.Length);
                SetChecksum(t, UdpHeader.Offsets.Checksum, pseudo: true);
                break;
            case IpProtocol.Icmp or IpProtocol.Icmpv6:
                t[IcmpHeader.Offsets.Type] = IcmpType;
                t[IcmpHeader.Offsets.Code] = IcmpCode;
                BinaryPrimitives.WriteUInt32BigEndian(t[IcmpHeader.Offsets.Rest..], IcmpRestOfHeader);
                // ICMPv6 covers the pseudo-header (RFC 4443 section 2.3); ICMP does not.
                SetChecksum(t, IcmpHeader.Offsets.Checksum, pseudo: Protocol == IpProtocol.Icmpv6);
                break;
        }
    }

    private readonly void SetChecksum(Span<byte> segment, int field, bool pseudo)
    {
        uint sum = !pseudo ? 0
            : Ipv6 ? Checksum.PseudoHeaderV6(Source, Destination, Protocol, segment.Length)
            : Checksum.PseudoHeaderV4((uint)Source, (uint)Destination, Protocol, segment.Length);
        ushort c = Checksum.Finish(Checksum.Add(sum, segment));
        if (c == 0 && Protocol == IpProtocol.Udp) c = 0xffff; // RFC 768: zero means "no checksum"
        BinaryPrimitives.WriteUInt16BigEndian(segment[field..], c);
    }

    private static int Pad4(int n) => (n + 3) & ~3;
}
