using System.Buffers.Binary;

namespace SharpTables.Engine.Targets;

/// <summary>
/// Incremental Internet checksum updates in the kernel's own arithmetic (include/net/checksum.h),
/// for the mangle targets that rewrite header fields in place. Values are the fields as
/// big-endian numbers; one's complement sums do not depend on byte order, so the bytes written
/// are the ones the kernel writes. (A private helper until a shared packet rewriter exists.)
/// </summary>
internal static class IpChecksum
{
    /// <summary>Offset of the IPv4 header checksum.</summary>
    public const int Ipv4ChecksumOffset = 10;

    /// <summary>Whether the packet has a whole fixed IP header to rewrite (the kernel never hands a target less).</summary>
    public static bool HasIpHeader(Packet p) =>
        (p.Info.IsIPv4 && p.Length >= 20) || (p.Info.IsIPv6 && p.Length >= 40);

    /// <summary>csum_replace2 on a 16-bit checksum field: one 16-bit word changed from <paramref name="from"/> to <paramref name="to"/>.</summary>
    public static void Replace2(Span<byte> checksum, ushort from, ushort to)
    {
        ushort sum = BinaryPrimitives.ReadUInt16BigEndian(checksum);
        sum = (ushort)~Add16(Add16((ushort)~sum, (ushort)~from), to);
        BinaryPrimitives.WriteUInt16BigEndian(checksum, sum);
    }

    /// <summary>
    /// csum_replace4 (what inet_proto_csum_replace2/4 do for a fully checksummed packet): the
    /// 32-bit value <paramref name="from"/> (two 16-bit words, or one zero-extended) became <paramref name="to"/>.
    /// </summary>
    public static void Replace4(Span<byte> checksum, uint from, uint to)
    {
        uint unfolded = BinaryPrimitives.ReadUInt16BigEndian(checksum);
        uint tmp = Add32(~unfolded, ~from);
        BinaryPrimitives.WriteUInt16BigEndian(checksum, Fold(Add32(tmp, to)));
    }

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

    /// <summary>csum16_add: 16-bit one's complement addition.</summary>
    private static ushort Add16(ushort a, ushort b)
    {
        ushort r = (ushort)(a + b);
        return (ushort)(r + (r < b ? 1 : 0));
    }

    /// <summary>csum_add on 32-bit partial sums (end-around carry).</summary>
    private static uint Add32(uint a, uint b)
    {
        uint r = a + b;
        return r + (r < b ? 1u : 0u);
    }

    /// <summary>csum_fold: the 32-bit partial sum folded to 16 bits and complemented.</summary>
    private static ushort Fold(uint sum)
    {
        sum = (sum & 0xffff) + (sum >> 16);
        sum = (sum & 0xffff) + (sum >> 16);
        return (ushort)~sum;
    }
}
