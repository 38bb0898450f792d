using System.Buffers.Binary;
using SharpTables.Packets;

namespace SharpTables.Simulation;

/// <summary>The fields of one packet to put on the wire (what a scenario line or a TCP stack asks for).</summary>
internal sealed class WireSpec
{
    public byte Version = 4;
    public UInt128 Src, Dst;
    public byte Proto = IpProtocol.Tcp;
    public byte Ttl = 64, Tos;
    public ushort Id;
    public uint FlowLabel;
    /// <summary>IPv4 flags field bits (DF 2, MF 1, evil 4) and fragment offset in 8-byte units.</summary>
    public byte IpFlags;
    public ushort FragOffset;
    public ushort SrcPort, DstPort;
    public byte TcpFlags;
    public uint Seq, Ack;
    public ushort Window = 64240, UrgPtr;
    public byte[] TcpOptions = [];
    public byte IcmpType, IcmpCode;
    public ushort IcmpId, IcmpSeq;
    /// <summary>The 4 bytes after type/code/checksum for ICMP types without id/seq.</summary>
    public uint IcmpRest;
    public byte[] Payload = [];
    /// <summary>Pad the IP packet with zeros to this total length (0 = no padding).</summary>
    public int PadTo;
}

/// <summary>Writes packets as scapy builds them for the oracle (same field defaults and layout).</summary>
internal static class Wire
{
    public static byte[] Build(WireSpec s)
    {
        int l4Header = s.Proto switch
        {
            IpProtocol.Tcp => 20 + s.TcpOptions.Length,
            IpProtocol.Udp => 8,
            IpProtocol.Icmp or IpProtocol.Icmpv6 => 8,
            _ => 0,
        };
        int ipHeader = s.Version == 4 ? 20 : 40;
        int len = ipHeader + l4Header + s.Payload.Length;
        int total = Math.Max(len, s.PadTo);
        var b = new byte[total];
        var l4 = b.AsSpan(ipHeader, total - ipHeader);
        if (s.Version == 4)
        {
            b[0] = 0x45;
            b[1] = s.Tos;
            BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(2), (ushort)total);
            BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(4), s.Id);
            BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(6), (ushort)(s.IpFlags << 13 | (s.FragOffset & 0x1fff)));
            b[8] = s.Ttl;
            b[9] = s.Proto;
            BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(12), (uint)s.Src);
            BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(16), (uint)s.Dst);
            BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(10), Sum.Finish(Sum.Add(0, b.AsSpan(0, 20))));
        }
        else
        {
            BinaryPrimitives.WriteUInt32BigEndian(b, 6u << 28 | (uint)s.Tos << 20 | (s.FlowLabel & 0xfffff));
            BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(4), (ushort)(total - 40));
            b[6] = s.Proto;
            b[7] = s.Ttl;
            PacketParser.WriteUInt128(b.AsSpan(8), s.Src);
            PacketParser.WriteUInt128(b.AsSpan(24), s.Dst);
        }
        switch (s.Proto)
        {
            case IpProtocol.Tcp:
                BinaryPrimitives.WriteUInt16BigEndian(l4, s.SrcPort);
                BinaryPrimitives.WriteUInt16BigEndian(l4[2..], s.DstPort);
                BinaryPrimitives.WriteUInt32BigEndian(l4[4..], s.Seq);
                BinaryPrimitives.WriteUInt32BigEndian(l4[8..], s.Ack);
                l4[12] = (byte)((20 + s.TcpOptions.Length) / 4 << 4);
                l4[13] = s.TcpFlags;
                BinaryPrimitives.WriteUInt16BigEndian(l4[14..], s.Window);
                BinaryPrimitives.WriteUInt16BigEndian(l4[18..], s.UrgPtr);
                s.TcpOptions.CopyTo(l4[20..]);
                s.Payload.CopyTo(l4[(20 + s.TcpOptions.Length)..]);
                break;
            case IpProtocol.Udp:
                BinaryPrimitives.WriteUInt16BigEndian(l4, s.SrcPort);
                BinaryPrimitives.WriteUInt16BigEndian(l4[2..], s.DstPort);
                BinaryPrimitives.WriteUInt16BigEndian(l4[4..], (ushort)(8 + s.Payload.Length));
                s.Payload.CopyTo(l4[8..]);
                break;
            case IpProtocol.Icmp:
            case IpProtocol.Icmpv6:
                l4[0] = s.IcmpType;
                l4[1] = s.IcmpCode;
                if (PacketParser.IsEcho(s.Proto, s.IcmpType))
                {
                    BinaryPrimitives.WriteUInt16BigEndian(l4[4..], s.IcmpId);
                    BinaryPrimitives.WriteUInt16BigEndian(l4[6..], s.IcmpSeq);
                }
                else BinaryPrimitives.WriteUInt32BigEndian(l4[4..], s.IcmpRest);
                s.Payload.CopyTo(l4[8..]);
                break;
            default:
                s.Payload.CopyTo(l4);
                break;
        }
        FixTransportChecksum(b, s.Version, s.Proto, ipHeader, len);
        return b;
    }

    /// <summary>Computes the TCP/UDP/ICMP/ICMPv6 checksum as scapy does: over the transport length from the header (padding excluded).</summary>
    private static void FixTransportChecksum(byte[] b, byte version, byte proto, int ipHeader, int len)
    {
        int off = proto switch { IpProtocol.Tcp => 16, IpProtocol.Udp => 6, IpProtocol.Icmp or IpProtocol.Icmpv6 => 2, _ => -1 };
        if (off < 0) return;
        int l4len = len - ipHeader;
        var seg = b.AsSpan(ipHeader, l4len);
        uint sum = 0;
        if (proto != IpProtocol.Icmp)
        {
            if (version == 4) { sum = Sum.Add(sum, b.AsSpan(12, 8)); }
            else { sum = Sum.Add(sum, b.AsSpan(8, 32)); }
            sum += (uint)l4len + proto;
        }
        sum = Sum.Add(sum, seg);
        ushort c = Sum.Finish(sum);
        if (proto == IpProtocol.Udp && c == 0) c = 0xffff;
        BinaryPrimitives.WriteUInt16BigEndian(seg[off..], c);
    }

    /// <summary>Scapy's one-line description, as the oracle prints it in "summary".</summary>
    public static string Describe(ReadOnlySpan<byte> packet)
    {
        PacketParser.Parse(packet, out var i);
        string src = Addr(i.Version, i.Source), dst = Addr(i.Version, i.Destination);
        string extra = "";
        if (i.Version == 4)
        {
            int flags = packet[6] >> 5;
            if (flags != 0 || i.FragmentOffset != 0) extra = $" ipflags={IpFlagsText(flags)} frag={i.FragmentOffset}";
        }
        int len = packet.Length;
        if (i.Protocol == IpProtocol.Tcp && i.TransportOffset >= 0 && !i.IsFragment)
        {
            string fl = TcpFlagsText(i.TcpFlags);
            return $"TCP {src}:{i.SourcePort} > {dst}:{i.DestinationPort} [{(fl.Length == 0 ? "none" : fl)}] ttl={i.Ttl} len={len}{extra}";
        }
        if (i.Protocol == IpProtocol.Udp && i.TransportOffset >= 0 && !i.IsFragment)
            return $"UDP {src}:{i.SourcePort} > {dst}:{i.DestinationPort} ttl={i.Ttl} len={len}{extra}";
        if (i.Protocol == IpProtocol.Icmp && i.TransportOffset >= 0 && !i.IsFragment)
            return $"ICMP {src} > {dst} type={i.IcmpType} code={i.IcmpCode} ttl={i.Ttl} len={len}{extra}";
        if (i.Version == 6 && i.Protocol == IpProtocol.Icmpv6)
            return $"ICMPv6 {src} > {dst} type={i.IcmpType} code={i.IcmpCode} hlim={i.Ttl} len={len}";
        return $"proto {i.Protocol} {src} > {dst} ttl={i.Ttl} len={len}{extra}";
    }

    private static string IpFlagsText(int flags)
    {
        var parts = new List<string>();
        if ((flags & 1) != 0) parts.Add("MF");
        if ((flags & 2) != 0) parts.Add("DF");
        if ((flags & 4) != 0) parts.Add("evil");
        return string.Join("+", parts);
    }

    /// <summary>Scapy's flag letters in its order (F S R P A U E C).</summary>
    public static string TcpFlagsText(byte f)
    {
        const string letters = "FSRPAUEC";
        var sb = new System.Text.StringBuilder();
        for (int i = 0; i < 8; i++) if ((f & (1 << i)) != 0) sb.Append(letters[i]);
        return sb.ToString();
    }

    public static string Addr(byte version, UInt128 a) => version == 4
        ? Ipv4.Format((uint)a)
        : new System.Net.IPAddress(ToBytes(a)).ToString();

    public static byte[] ToBytes(UInt128 a)
    {
        var b = new byte[16];
        PacketParser.WriteUInt128(b, a);
        return b;
    }
}

/// <summary>Internet checksum arithmetic (RFC 1071).</summary>
internal static class Sum
{
    public static uint Add(uint sum, ReadOnlySpan<byte> data)
    {
        int i = 0;
        for (; i + 1 < data.Length; i += 2) sum += (uint)(data[i] << 8 | data[i + 1]);
        if (i < data.Length) sum += (uint)(data[i] << 8);
        return sum;
    }

    public static ushort Finish(uint sum)
    {
        while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
        return (ushort)~sum;
    }
}
