using System.Buffers.Binary;
using SharpTables.Packets;

namespace SharpTables.Engine.Tests.Conntrack;

/// <summary>A tiny IPv4/IPv6 TCP/UDP/ICMP builder with correct checksums, for driving conntrack and NAT directly.</summary>
internal static class TestPackets
{
    public const byte Fin = 0x01, Syn = 0x02, Rst = 0x04, Psh = 0x08, Ack = 0x10, Urg = 0x20;

    public static uint Ip(string s)
    {
        Ipv4.TryParse(s, out uint a);
        return a;
    }

    public static byte[] Tcp(string src, string dst, ushort sport, ushort dport, byte flags, uint seq = 1000, uint ack = 0,
        ushort window = 64240, int payload = 0, byte[]? options = null)
    {
        int optLen = options?.Length ?? 0;
        var t = new byte[20 + optLen + payload];
        BinaryPrimitives.WriteUInt16BigEndian(t, sport);
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(2), dport);
        BinaryPrimitives.WriteUInt32BigEndian(t.AsSpan(4), seq);
        BinaryPrimitives.WriteUInt32BigEndian(t.AsSpan(8), ack);
        t[12] = (byte)((20 + optLen) / 4 << 4);
        t[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(14), window);
        options?.CopyTo(t, 20);
        return Ipv4Packet(src, dst, IpProtocol.Tcp, t, 16);
    }

    public static byte[] Udp(string src, string dst, ushort sport, ushort dport, int payload = 0)
    {
        var u = new byte[8 + payload];
        BinaryPrimitives.WriteUInt16BigEndian(u, sport);
        BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(2), dport);
        BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(4), (ushort)u.Length);
        return Ipv4Packet(src, dst, IpProtocol.Udp, u, 6);
    }

    public static byte[] Icmp(string src, string dst, byte type, byte code, ushort id = 0, ushort seq = 0, byte[]? quote = null)
    {
        var m = new byte[8 + (quote?.Length ?? 0)];
        m[0] = type;
        m[1] = code;
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(4), id);
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(6), seq);
        quote?.CopyTo(m, 8);
        return Ipv4Packet(src, dst, IpProtocol.Icmp, m, 2);
    }

    /// <summary>An ICMP error quoting the IP header + 8 bytes of <paramref name="original"/>, as routers do.</summary>
    public static byte[] IcmpError(string src, string dst, byte type, byte code, byte[] original) =>
        Icmp(src, dst, type, code, quote: original[..Math.Min(original.Length, 28)]);

    public static byte[] Ipv4Packet(string src, string dst, byte protocol, byte[] l4, int checksumOffset, ushort id = 0xb001, ushort frag = 0)
    {
        var p = new byte[20 + l4.Length];
        p[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)p.Length);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(4), id);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(6), frag);
        p[8] = 64;
        p[9] = protocol;
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(12), Ip(src));
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(16), Ip(dst));
        l4.CopyTo(p, 20);
        if (checksumOffset >= 0)
        {
            ulong sum = protocol == IpProtocol.Icmp ? 0 : Pseudo4(p, protocol, l4.Length);
            WriteChecksum(p.AsSpan(20), checksumOffset, sum);
        }
        WriteChecksum(p.AsSpan(0, 20), 10, 0);
        return p;
    }

    public static byte[] Ipv6Packet(string src, string dst, byte next, byte[] payload, int checksumOffset)
    {
        var p = new byte[40 + payload.Length];
        p[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(4), (ushort)payload.Length);
        p[6] = next;
        p[7] = 64;
        PacketParser.WriteUInt128(p.AsSpan(8), System.Net.IPAddress.Parse(src).GetAddressBytes().Aggregate(UInt128.Zero, (a, b) => (a << 8) | b));
        PacketParser.WriteUInt128(p.AsSpan(24), System.Net.IPAddress.Parse(dst).GetAddressBytes().Aggregate(UInt128.Zero, (a, b) => (a << 8) | b));
        payload.CopyTo(p, 40);
        if (checksumOffset >= 0)
        {
            ulong sum = Add(0, p.AsSpan(8, 32)) + (uint)payload.Length + next;
            WriteChecksum(p.AsSpan(40), checksumOffset, sum);
        }
        return p;
    }

    public static byte[] Icmpv6(string src, string dst, byte type, byte code, ushort id = 0, ushort seq = 0)
    {
        var m = new byte[8];
        m[0] = type;
        m[1] = code;
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(4), id);
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(6), seq);
        return Ipv6Packet(src, dst, IpProtocol.Icmpv6, m, 2);
    }

    public static byte[] Udp6(string src, string dst, ushort sport, ushort dport)
    {
        var u = new byte[8];
        BinaryPrimitives.WriteUInt16BigEndian(u, sport);
        BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(2), dport);
        BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(4), 8);
        return Ipv6Packet(src, dst, IpProtocol.Udp, u, 6);
    }

    private static ulong Pseudo4(byte[] p, byte protocol, int length) => Add(0, p.AsSpan(12, 8)) + protocol + (uint)length;

    private static ulong Add(ulong sum, ReadOnlySpan<byte> d)
    {
        for (int i = 0; i < d.Length; i += 2) sum += (uint)(d[i] << 8 | (i + 1 < d.Length ? d[i + 1] : 0));
        return sum;
    }

    private static void WriteChecksum(Span<byte> data, int at, ulong pseudo)
    {
        data[at] = data[at + 1] = 0;
        ulong s = Add(pseudo, data);
        while (s >> 16 != 0) s = (s & 0xffff) + (s >> 16);
        BinaryPrimitives.WriteUInt16BigEndian(data[at..], (ushort)~s);
    }

    /// <summary>Whether the IPv4 header checksum and the TCP/UDP/ICMP checksum of a packet verify.</summary>
    public static bool ChecksumsValid(ReadOnlySpan<byte> p)
    {
        if (Fold(Add(0, p[..20])) != 0xffff) return false;
        byte proto = p[9];
        int len = BinaryPrimitives.ReadUInt16BigEndian(p[2..]) - 20;
        var l4 = p.Slice(20, len);
        if (proto == IpProtocol.Udp && BinaryPrimitives.ReadUInt16BigEndian(l4[6..]) == 0) return true;
        ulong sum = proto == IpProtocol.Icmp ? 0 : Add(0, p.Slice(12, 8)) + proto + (uint)len;
        return Fold(Add(sum, l4)) == 0xffff;
    }

    private static ushort Fold(ulong s)
    {
        while (s >> 16 != 0) s = (s & 0xffff) + (s >> 16);
        return (ushort)s;
    }
}
