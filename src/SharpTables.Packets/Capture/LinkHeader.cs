using System.Buffers.Binary;

namespace SharpTables.Packets.Capture;

/// <summary>
/// The link-layer header of one captured frame, decoded by link type: where the IP packet
/// starts, the EtherType-style protocol, addresses (as offsets into the frame) and, for Linux
/// cooked captures, the packet type, hardware type and interface index.
/// <code>
/// Ethernet (1)     dst MAC(6) src MAC(6) [0x8100 TCI(2)]* EtherType(2)
/// SLL v1 (113)     pkttype(2) ARPHRD(2) addrlen(2) addr(8) protocol(2)
/// SLL v2 (276)     protocol(2) reserved(2) ifindex(4) ARPHRD(2) pkttype(1) addrlen(1) addr(8)
/// Null (0) / Loop (108)   address family(4): host order / big-endian
/// Raw (101, 12, 14) / IPv4 (228) / IPv6 (229)   the IP packet itself
/// </code>
/// Decoding never throws: a frame too short for its header has <see cref="NetworkOffset"/> -1.
/// </summary>
public readonly struct LinkHeader
{
    /// <summary>The link type the frame was decoded as.</summary>
    public LinkType LinkType { get; init; }
    /// <summary>Offset of the IPv4/IPv6 header in the frame; -1 when the frame carries neither (ARP, unknown, cut short).</summary>
    public int NetworkOffset { get; init; }
    /// <summary>Bytes of link-layer header (VLAN tags included); 0 for raw IP.</summary>
    public int HeaderLength { get; init; }
    /// <summary>The EtherType of the payload (0x0800 IPv4, 0x86dd IPv6, ...); for raw and loopback types the one the header implies; 0 when unknown.</summary>
    public ushort Protocol { get; init; }
    /// <summary>For cooked captures, what the capture says; for Ethernet, broadcast/multicast by the destination MAC and host otherwise; else unknown.</summary>
    public LinkPacketType PacketType { get; init; }
    /// <summary>The outermost 802.1Q VLAN id, or -1.</summary>
    public int VlanId { get; init; }
    /// <summary>ARPHRD_* hardware type (cooked captures; 1 = Ethernet, 772 = loopback); 0 otherwise.</summary>
    public ushort HardwareType { get; init; }
    /// <summary>SLL2: the interface index the capture recorded; 0 otherwise.</summary>
    public int LinkInterfaceIndex { get; init; }
    /// <summary>Offset of the destination link address (Ethernet: the destination MAC); -1 when the header has none.</summary>
    public int DestinationAddressOffset { get; init; }
    /// <summary>Offset of the source link address (Ethernet: source MAC; cooked: the address field); -1 when none.</summary>
    public int SourceAddressOffset { get; init; }
    /// <summary>Length of the link addresses (6 for Ethernet; the cooked header's address length, at most 8).</summary>
    public int AddressLength { get; init; }

    /// <summary>Decodes the link-layer header of <paramref name="frame"/> captured with <paramref name="linkType"/>.</summary>
    public static LinkHeader Decode(LinkType linkType, ReadOnlySpan<byte> frame)
    {
        var h = new LinkHeader
        {
            LinkType = linkType, NetworkOffset = -1, PacketType = LinkPacketType.Unknown, VlanId = -1,
            DestinationAddressOffset = -1, SourceAddressOffset = -1,
        };
        switch (linkType)
        {
            case LinkType.Ethernet: return DecodeEthernet(h, frame);
            case LinkType.LinuxSll:
            {
                if (frame.Length < 16) return h;
                int len = Math.Min((int)BinaryPrimitives.ReadUInt16BigEndian(frame[4..]), 8);
                return Network(h with
                {
                    HeaderLength = 16, PacketType = (LinkPacketType)BinaryPrimitives.ReadUInt16BigEndian(frame),
                    HardwareType = BinaryPrimitives.ReadUInt16BigEndian(frame[2..]), SourceAddressOffset = 6, AddressLength = len,
                    Protocol = BinaryPrimitives.ReadUInt16BigEndian(frame[14..]),
                });
            }
            case LinkType.LinuxSll2:
                if (frame.Length < 20) return h;
                return Network(h with
                {
                    HeaderLength = 20, Protocol = BinaryPrimitives.ReadUInt16BigEndian(frame),
                    LinkInterfaceIndex = BinaryPrimitives.ReadInt32BigEndian(frame[4..]),
                    HardwareType = BinaryPrimitives.ReadUInt16BigEndian(frame[8..]), PacketType = (LinkPacketType)frame[10],
                    AddressLength = Math.Min((int)frame[11], 8), SourceAddressOffset = 12,
                });
            case LinkType.Null or LinkType.Loop:
            {
                if (frame.Length < 4) return h;
                uint family = linkType == LinkType.Loop ? BinaryPrimitives.ReadUInt32BigEndian(frame) : BinaryPrimitives.ReadUInt32LittleEndian(frame);
                if (family > 0xffff) family = BinaryPrimitives.ReverseEndianness(family); // written on a big-endian host
                ushort proto = family switch
                {
                    2 => Ethernet.EtherTypeIpv4,
                    10 or 24 or 28 or 30 => Ethernet.EtherTypeIpv6, // AF_INET6 on Linux, Net/OpenBSD, FreeBSD, macOS
                    _ => 0,
                };
                return Network(h with { HeaderLength = 4, Protocol = proto });
            }
            case LinkType.Raw or LinkType.RawBsd12 or LinkType.RawBsd14:
            {
                int version = frame.Length > 0 ? frame[0] >> 4 : 0;
                ushort proto = version == 4 ? Ethernet.EtherTypeIpv4 : version == 6 ? Ethernet.EtherTypeIpv6 : (ushort)0;
                return Network(h with { Protocol = proto });
            }
            case LinkType.Ipv4: return Network(h with { Protocol = Ethernet.EtherTypeIpv4 });
            case LinkType.Ipv6: return Network(h with { Protocol = Ethernet.EtherTypeIpv6 });
            default: return h;
        }
    }

    private static LinkHeader DecodeEthernet(LinkHeader h, ReadOnlySpan<byte> frame)
    {
        if (frame.Length < Ethernet.HeaderLength) return h;
        var type = frame[..6].IndexOfAnyExcept((byte)0xff) < 0 ? LinkPacketType.Broadcast
            : (frame[0] & 1) != 0 ? LinkPacketType.Multicast : LinkPacketType.Host;
        h = h with { DestinationAddressOffset = 0, SourceAddressOffset = 6, AddressLength = 6, PacketType = type };
        int off = 12;
        ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[off..]);
        int vlan = -1;
        while (etherType is Ethernet.EtherTypeVlan or Ethernet.EtherTypeQinQ or Ethernet.EtherTypeQinQ9100)
        {
            if (frame.Length < off + 6) return h;
            if (vlan < 0) vlan = BinaryPrimitives.ReadUInt16BigEndian(frame[(off + 2)..]) & 0x0fff;
            off += 4;
            etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[off..]);
        }
        // Values below 0x600 are 802.3 lengths (an LLC frame), not EtherTypes.
        return Network(h with { HeaderLength = off + 2, Protocol = etherType >= 0x600 ? etherType : (ushort)0, VlanId = vlan });
    }

    /// <summary>Sets the network offset when the payload is IPv4 or IPv6.</summary>
    private static LinkHeader Network(LinkHeader h) =>
        h.Protocol is Ethernet.EtherTypeIpv4 or Ethernet.EtherTypeIpv6 ? h with { NetworkOffset = h.HeaderLength } : h;
}
