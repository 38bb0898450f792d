using System.Buffers.Binary;

namespace SharpTables.Engine.Targets;

/// <summary>
/// The DS-field rewrites of the DSCP/TOS targets in the kernel's own arithmetic
/// (ipv4_change_dsfield, ipv6_change_dsfield). Other field updates use csum_replace2/4 in
/// <see cref="Conntrack.Checksum"/>.
/// </summary>
internal static class IpChecksum
{
    /// <summary>Offset of the IPv4 header checksum.</summary>
    public const int Ipv4ChecksumOffset = 10;

    /// <summary>Whether the packet has a whole fixed IP header to rewrite (the kernel never hands a target less).</summary>
    public static bool HasIpHeader(Packet p) =>
        (p.Info.IsIPv4 && p.Length >= 20) || (p.Info.IsIPv6 && p.Length >= 40);

    /// <summary>
    /// ipv4_change_dsfield: the TOS byte of an IPv4 header becomes (tos &amp; <paramref name="mask"/>) | <paramref name="value"/>,
    /// with the header checksum adjusted the way that function does it.
    /// </summary>
    public static void ChangeIpv4DsField(Span<byte> ipHeader, byte mask, byte value)
    {
        byte tos = ipHeader[1];
        byte dsfield = (byte)((tos & mask) | value);
        uint check = BinaryPrimitives.ReadUInt16BigEndian(ipHeader[Ipv4ChecksumOffset..]);
        check += tos;
        if (((check + 1) >> 16) != 0) check = (check + 1) & 0xffff;
        check -= dsfield;
        check += check >> 16;
        BinaryPrimitives.WriteUInt16BigEndian(ipHeader[Ipv4ChecksumOffset..], (ushort)check);
        ipHeader[1] = dsfield;
    }

    /// <summary>
    /// ipv6_change_dsfield: the traffic class (bits 4-11 of the first word) becomes
    /// (class &amp; <paramref name="mask"/>) | <paramref name="value"/>. IPv6 has no header checksum.
    /// </summary>
    public static void ChangeIpv6DsField(Span<byte> ipHeader, byte mask, byte value)
    {
        ushort word = BinaryPrimitives.ReadUInt16BigEndian(ipHeader);
        word = (ushort)((word & ((mask << 4) | 0xf00f)) | (value << 4));
        BinaryPrimitives.WriteUInt16BigEndian(ipHeader, word);
    }
}
