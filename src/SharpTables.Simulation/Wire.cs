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

/// <summary>Packets as the oracle's scapy code builds them (through <see cref="PacketBuilder"/>), and scapy's one-line summary.</summary>
internal static class Wire
{
    public static byte[] Build(WireSpec s)
    {
        bool echo = PacketParser.IsEcho(s.Proto, s.IcmpType);
        var b = new PacketBuilder
        {
            Ipv6 = s.Version == 6, Source = s.Src, Destination = s.Dst, Protocol = s.Proto, Ttl = s.Ttl, Tos = s.Tos,
            Id = s.Id, FlowLabel = s.FlowLabel,
            MoreFragments = (s.IpFlags & 1) != 0, DontFragment = (s.IpFlags & 2) != 0, ReservedFlag = (s.IpFlags & 4) != 0,
            FragmentOffset = s.FragOffset,
            SourcePort = s.SrcPort, DestinationPort = s.DstPort, TcpFlags = s.TcpFlags, Sequence = s.Seq, Acknowledgment = s.Ack,
            Window = s.Window, UrgentPointer = s.UrgPtr, TcpOptions = s.TcpOptions,
            IcmpType = s.IcmpType, IcmpCode = s.IcmpCode,
            Payload = s.Payload, TotalLength = s.PadTo,
        };
        if (echo) { b.IcmpId = s.IcmpId; b.IcmpSequence = s.IcmpSeq; }
        else b.IcmpRestOfHeader = s.IcmpRest;
        return b.ToArray();
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
