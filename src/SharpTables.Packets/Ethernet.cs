using System.Buffers.Binary;

namespace SharpTables.Packets;

/// <summary>
/// Ethernet II framing (IEEE 802.3):
/// <code>
/// +----------------+----------------+-----------+------------------
/// | destination MAC|   source MAC   | EtherType | payload (IP ...)
/// |    6 bytes     |    6 bytes     |  2 bytes  |
/// +----------------+----------------+-----------+------------------
/// </code>
/// An 802.1Q tag (EtherType 0x8100, or 0x88a8/0x9100 for stacked tags) inserts 4 bytes
/// (tag EtherType, TCI) before the real EtherType.
/// </summary>
public static class Ethernet
{
    /// <summary>Destination MAC, source MAC, EtherType.</summary>
    public const int HeaderLength = 14;
    /// <summary>EtherType values for IPv4, ARP, IPv6 and VLAN tags.</summary>
    public const ushort EtherTypeIpv4 = 0x0800, EtherTypeArp = 0x0806, EtherTypeIpv6 = 0x86dd,
        EtherTypeVlan = 0x8100, EtherTypeQinQ = 0x88a8, EtherTypeQinQ9100 = 0x9100;

    /// <summary>Writes a 14-byte header; returns 14.</summary>
    public static int WriteHeader(Span<byte> destination, ReadOnlySpan<byte> destinationMac, ReadOnlySpan<byte> sourceMac, ushort etherType)
    {
        destinationMac[..6].CopyTo(destination);
        sourceMac[..6].CopyTo(destination[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(destination[12..], etherType);
        return HeaderLength;
    }

    /// <summary>
    /// Writes a frame carrying <paramref name="ipPacket"/>, its EtherType (IPv4/IPv6) taken from
    /// the packet's version nibble; returns the frame length.
    /// </summary>
    public static int WriteFrame(Span<byte> destination, ReadOnlySpan<byte> destinationMac, ReadOnlySpan<byte> sourceMac, ReadOnlySpan<byte> ipPacket)
    {
        ushort type = ipPacket.Length > 0 && ipPacket[0] >> 4 == 6 ? EtherTypeIpv6 : EtherTypeIpv4;
        WriteHeader(destination, destinationMac, sourceMac, type);
        ipPacket.CopyTo(destination[HeaderLength..]);
        return HeaderLength + ipPacket.Length;
    }

    /// <summary><see cref="WriteFrame"/> into a new array.</summary>
    public static byte[] Frame(ReadOnlySpan<byte> destinationMac, ReadOnlySpan<byte> sourceMac, ReadOnlySpan<byte> ipPacket)
    {
        var frame = new byte[HeaderLength + ipPacket.Length];
        WriteFrame(frame, destinationMac, sourceMac, ipPacket);
        return frame;
    }

    /// <summary>Parses a MAC address written as six hex pairs separated by ':' or '-'.</summary>
    public static bool TryParseMac(ReadOnlySpan<char> text, Span<byte> mac)
    {
        if (text.Length != 17 || mac.Length < 6) return false;
        for (int i = 0; i < 6; i++)
        {
            if (i > 0 && text[i * 3 - 1] is not (':' or '-')) return false;
            if (!byte.TryParse(text.Slice(i * 3, 2), System.Globalization.NumberStyles.AllowHexSpecifier, null, out mac[i])) return false;
        }
        return true;
    }
}
