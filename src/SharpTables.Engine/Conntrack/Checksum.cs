using System.Buffers.Binary;
using SharpTables.Packets;

namespace SharpTables.Engine.Conntrack;

/// <summary>
/// Internet checksums (RFC 1071) and their incremental update (RFC 1624), as the kernel's
/// csum_* helpers compute them. Works on spans; allocates nothing.
/// </summary>
internal static class Checksum
{
    /// <summary>The one's complement sum of <paramref name="data"/> added to <paramref name="sum"/>, not folded.</summary>
    public static ulong Add(ulong sum, ReadOnlySpan<byte> data)
    {
        int i = 0;
        for (; i + 1 < data.Length; i += 2) sum += (uint)(data[i] << 8 | data[i + 1]);
        if (i < data.Length) sum += (uint)(data[i] << 8);
        return sum;
    }

    /// <summary>Folds a 64-bit accumulator to 16 bits (not complemented).</summary>
    public static ushort Fold(ulong sum)
    {
        while (sum >> 16 != 0) sum = (sum & 0xffff) + (sum >> 16);
        return (ushort)sum;
    }

    /// <summary>The pseudo-header sum for TCP/UDP/ICMPv6 over IPv4 or IPv6.</summary>
    public static ulong PseudoHeader(ReadOnlySpan<byte> packet, in PacketInfo info, byte protocol, int length)
    {
        ulong sum = 0;
        if (info.Version == 4)
        {
            sum = Add(sum, packet.Slice(12, 8));
        }
        else
        {
            sum = Add(sum, packet.Slice(8, 32));
            sum += (uint)length >> 16;
        }
        sum += (uint)length & 0xffff;
        sum += protocol;
        return sum;
    }

    /// <summary>Whether the transport checksum of the segment at <paramref name="offset"/> (to the end of <paramref name="packet"/>) verifies.</summary>
    public static bool TransportValid(ReadOnlySpan<byte> packet, int offset, byte protocol, in PacketInfo info)
    {
        int length = packet.Length - offset;
        ulong sum = protocol == IpProtocol.Icmp ? 0 : PseudoHeader(packet, info, protocol, length);
        return Fold(Add(sum, packet[offset..])) == 0xffff;
    }

    /// <summary>Recomputes a checksum field from scratch: the complement of the sum of <paramref name="pseudo"/> and <paramref name="data"/> (with the field zeroed first).</summary>
    public static void Compute(Span<byte> data, int fieldOffset, ulong pseudo)
    {
        data[fieldOffset] = data[fieldOffset + 1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(data[fieldOffset..], (ushort)~Fold(Add(pseudo, data)));
    }

    /// <summary>csum_replace: updates the checksum at <paramref name="field"/> for a 16-bit word changing from <paramref name="from"/> to <paramref name="to"/>.</summary>
    public static void Replace2(Span<byte> field, ushort from, ushort to)
    {
        ushort check = BinaryPrimitives.ReadUInt16BigEndian(field);
        ulong sum = (ushort)~check;
        sum += (ushort)~from;
        sum += to;
        BinaryPrimitives.WriteUInt16BigEndian(field, (ushort)~Fold(sum));
    }

    /// <summary>csum_replace4 / inet_proto_csum_replace4 for a 32-bit value.</summary>
    public static void Replace4(Span<byte> field, uint from, uint to)
    {
        ushort check = BinaryPrimitives.ReadUInt16BigEndian(field);
        ulong sum = (ushort)~check;
        sum += (ushort)~(from >> 16);
        sum += (ushort)~from;
        sum += to >> 16;
        sum += to & 0xffff;
        BinaryPrimitives.WriteUInt16BigEndian(field, (ushort)~Fold(sum));
    }

    /// <summary>inet_proto_csum_replace16 for a 128-bit (IPv6) address.</summary>
    public static void Replace16(Span<byte> field, UInt128 from, UInt128 to)
    {
        ushort check = BinaryPrimitives.ReadUInt16BigEndian(field);
        ulong sum = (ushort)~check;
        for (int shift = 112; shift >= 0; shift -= 16)
        {
            sum += (ushort)~(ushort)(from >> shift);
            sum += (ushort)(to >> shift);
        }
        BinaryPrimitives.WriteUInt16BigEndian(field, (ushort)~Fold(sum));
    }
}
