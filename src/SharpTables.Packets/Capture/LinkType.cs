namespace SharpTables.Packets.Capture;

/// <summary>The link-layer header types (tcpdump.org LINKTYPE_* values) this library decodes.</summary>
public enum LinkType : uint
{
    /// <summary>BSD loopback: a 4-byte address family in the writer's byte order (LINKTYPE_NULL).</summary>
    Null = 0,
    /// <summary>Ethernet II, with 802.1Q tags skipped (LINKTYPE_ETHERNET).</summary>
    Ethernet = 1,
    /// <summary>DLT_RAW as some BSDs number it in old files: a raw IP packet.</summary>
    RawBsd12 = 12,
    /// <summary>DLT_RAW as OpenBSD numbers it in old files: a raw IP packet.</summary>
    RawBsd14 = 14,
    /// <summary>Raw IPv4 or IPv6 (by the version nibble) (LINKTYPE_RAW).</summary>
    Raw = 101,
    /// <summary>OpenBSD loopback: a 4-byte address family, big-endian (LINKTYPE_LOOP).</summary>
    Loop = 108,
    /// <summary>Linux cooked capture v1, 16-byte header (LINKTYPE_LINUX_SLL).</summary>
    LinuxSll = 113,
    /// <summary>Raw IPv4 (LINKTYPE_IPV4).</summary>
    Ipv4 = 228,
    /// <summary>Raw IPv6 (LINKTYPE_IPV6).</summary>
    Ipv6 = 229,
    /// <summary>Linux cooked capture v2, 20-byte header (LINKTYPE_LINUX_SLL2).</summary>
    LinuxSll2 = 276,
}

/// <summary>How the link layer addressed a frame: the kernel's <c>skb->pkt_type</c> (PACKET_HOST ...), as cooked captures record it.</summary>
public enum LinkPacketType : byte
{
    /// <summary>To this host.</summary>
    Host = 0,
    Broadcast = 1,
    Multicast = 2,
    /// <summary>To another host (seen in promiscuous mode).</summary>
    OtherHost = 3,
    /// <summary>Sent by this host.</summary>
    Outgoing = 4,
    Loopback = 5,
    /// <summary>The capture does not say.</summary>
    Unknown = 255,
}
