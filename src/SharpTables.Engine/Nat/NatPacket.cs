using Checksum = SharpTables.Engine.Conntrack.Checksum;
using System.Buffers.Binary;
using SharpTables.Engine.Conntrack;
using SharpTables.Packets;

namespace SharpTables.Engine.Nat;

/// <summary>
/// Rewrites packet bytes for a NAT binding (nf_nat_proto.c): addresses with the IPv4 header
/// checksum, ports / ICMP ids with incremental transport checksum updates, and the packet quoted
/// inside an ICMP error (nf_nat_icmp_reply_translation). Works in place; allocates nothing.
/// </summary>
internal static class NatPacket
{
    /// <summary>
    /// nf_nat_ipv4_manip_pkt / nf_nat_ipv6_manip_pkt: makes the IP packet at <paramref name="ipOffset"/>
    /// (the outer packet, or one quoted in an ICMP error) carry <paramref name="target"/>'s source or
    /// destination. <paramref name="buffer"/> ends where the skb does. False when the headers are not there.
    /// </summary>
    public static bool Manip(Span<byte> buffer, int ipOffset, in ConnTuple target, NatManip manip)
    {
        if (target.Version == 4)
        {
            if (buffer.Length < ipOffset + 20) return false;
            var ip = buffer[ipOffset..];
            int hdroff = ipOffset + (ip[0] & 0x0f) * 4;
            if (!L4Manip(buffer, ipOffset, hdroff, target, manip)) return false;
            int field = manip == NatManip.Source ? 12 : 16;
            uint old = BinaryPrimitives.ReadUInt32BigEndian(ip[field..]);
            uint now = (uint)(manip == NatManip.Source ? target.Source : target.Destination);
            Checksum.Replace4(ip[10..], old, now);
            BinaryPrimitives.WriteUInt32BigEndian(ip[field..], now);
            return true;
        }
        if (buffer.Length < ipOffset + 40) return false;
        var quoted = buffer[ipOffset..];
        PacketParser.Parse(quoted, out var info);
        if (info.TransportOffset >= 0 && (info.Flags & PacketFlags.Fragment) == 0
            && !L4Manip(buffer, ipOffset, ipOffset + info.TransportOffset, target, manip))
            return false;
        PacketParser.WriteUInt128(quoted[(manip == NatManip.Source ? 8 : 24)..], manip == NatManip.Source ? target.Source : target.Destination);
        return true;
    }

    /// <summary>l4proto_manip_pkt.</summary>
    private static bool L4Manip(Span<byte> buffer, int ipOffset, int hdroff, in ConnTuple target, NatManip manip)
    {
        bool src = manip == NatManip.Source;
        ushort newPort = src ? target.SourcePort : target.DestinationPort;
        switch (target.Protocol)
        {
            case IpProtocol.Tcp:
            {
                // An ICMP error may quote only 8 bytes of the header: then the checksum is out of reach.
                if (buffer.Length < hdroff + 8) return false;
                var h = buffer[hdroff..];
                int portOff = src ? 0 : 2;
                ushort oldPort = BinaryPrimitives.ReadUInt16BigEndian(h[portOff..]);
                BinaryPrimitives.WriteUInt16BigEndian(h[portOff..], newPort);
                if (buffer.Length < hdroff + 20) return true;
                AddressChecksum(buffer, ipOffset, h[16..], target, manip);
                Checksum.Replace2(h[16..], oldPort, newPort);
                return true;
            }
            case IpProtocol.Udp:
            case IpProtocol.UdpLite:
            {
                if (buffer.Length < hdroff + 8) return false;
                var h = buffer[hdroff..];
                int portOff = src ? 0 : 2;
                ushort oldPort = BinaryPrimitives.ReadUInt16BigEndian(h[portOff..]);
                if (target.Protocol == IpProtocol.UdpLite || BinaryPrimitives.ReadUInt16BigEndian(h[6..]) != 0)
                {
                    AddressChecksum(buffer, ipOffset, h[6..], target, manip);
                    Checksum.Replace2(h[6..], oldPort, newPort);
                    if (BinaryPrimitives.ReadUInt16BigEndian(h[6..]) == 0) BinaryPrimitives.WriteUInt16BigEndian(h[6..], 0xffff); // CSUM_MANGLED_0
                }
                BinaryPrimitives.WriteUInt16BigEndian(h[portOff..], newPort);
                return true;
            }
            case IpProtocol.Sctp:
            {
                // Ports only: the CRC32c is not recomputed (see the report on SCTP).
                if (buffer.Length < hdroff + 8) return false;
                BinaryPrimitives.WriteUInt16BigEndian(buffer[(hdroff + (src ? 0 : 2))..], newPort);
                return true;
            }
            case IpProtocol.Icmp:
            {
                if (buffer.Length < hdroff + 8) return false;
                var h = buffer[hdroff..];
                if (h[0] is not (0 or 8 or 13 or 14 or 15 or 16 or 17 or 18)) return true;
                ushort oldId = BinaryPrimitives.ReadUInt16BigEndian(h[4..]);
                Checksum.Replace2(h[2..], oldId, target.SourcePort);
                BinaryPrimitives.WriteUInt16BigEndian(h[4..], target.SourcePort);
                return true;
            }
            case IpProtocol.Icmpv6:
            {
                if (buffer.Length < hdroff + 8) return false;
                var h = buffer[hdroff..];
                AddressChecksum(buffer, ipOffset, h[2..], target, manip);
                if (h[0] is 128 or 129)
                {
                    ushort oldId = BinaryPrimitives.ReadUInt16BigEndian(h[4..]);
                    Checksum.Replace2(h[2..], oldId, target.SourcePort);
                    BinaryPrimitives.WriteUInt16BigEndian(h[4..], target.SourcePort);
                }
                return true;
            }
            case IpProtocol.Gre:
            {
                // gre_manip_pkt wants the first 8 bytes of a PPTP header writable before it looks at
                // anything, so a GRE packet (any version, either manip) shorter than that is dropped.
                // Only a destination manip of version 1 (PPTP) changes a field: the call id.
                if (buffer.Length < hdroff + 8) return false;
                var h = buffer[hdroff..];
                if (!src && (h[1] & 7) == 1) BinaryPrimitives.WriteUInt16BigEndian(h[6..], target.DestinationPort);
                return true;
            }
            default:
                return true;
        }
    }

    /// <summary>nf_csum_update: the pseudo-header part of a transport checksum follows the address change.</summary>
    private static void AddressChecksum(Span<byte> buffer, int ipOffset, Span<byte> check, in ConnTuple target, NatManip manip)
    {
        var ip = buffer[ipOffset..];
        if (target.Version == 4)
        {
            uint old = BinaryPrimitives.ReadUInt32BigEndian(ip[(manip == NatManip.Source ? 12 : 16)..]);
            Checksum.Replace4(check, old, (uint)(manip == NatManip.Source ? target.Source : target.Destination));
        }
        else
        {
            var old = PacketParser.ReadUInt128(ip[(manip == NatManip.Source ? 8 : 24)..]);
            Checksum.Replace16(check, old, manip == NatManip.Source ? target.Source : target.Destination);
        }
    }

    /// <summary>
    /// nf_nat_icmp_reply_translation / nf_nat_icmpv6_reply_translation: an ICMP error RELATED to a
    /// NATed connection gets its quoted packet rewritten back, its checksum recomputed, and its outer
    /// header made to look like a reply. False means drop.
    /// </summary>
    public static bool IcmpReplyTranslation(Packet p, Connection ct, NatManip manip, bool verifyChecksum)
    {
        ref readonly var info = ref p.Info;
        int len = Math.Min(p.Length, info.TotalLength);
        var buffer = p.Buffer.AsSpan(0, len);
        int hdrlen = info.Version == 4 ? info.HeaderLength : info.TransportOffset;
        if (hdrlen < 0 || len < hdrlen + 8 + (info.Version == 4 ? 20 : 40)) return false;
        byte icmpProto = info.Version == 4 ? IpProtocol.Icmp : IpProtocol.Icmpv6;
        if (verifyChecksum && !Checksum.TransportValid(buffer, hdrlen, icmpProto, info)) return false;

        var dir = p.CtInfo >= CtInfo.EstablishedReply ? ConnDirection.Reply : ConnDirection.Original;
        byte type = buffer[hdrlen];
        if ((info.Version == 4 && type == 5) || (info.Version == 6 && type == 137))
        {
            if ((ct.Status & ConnStatus.NatDoneMask) != ConnStatus.NatDoneMask) return false;
            if ((ct.Status & ConnStatus.NatMask) != 0) return false;
        }

        var statusBit = manip == NatManip.Source ? ConnStatus.SrcNat : ConnStatus.DstNat;
        if (dir == ConnDirection.Reply) statusBit ^= ConnStatus.NatMask;
        if ((ct.Status & statusBit) == 0) return true;

        var other = dir == ConnDirection.Original ? ct.Reply : ct.Original;
        var inverse = manip == NatManip.Source ? NatManip.Destination : NatManip.Source;
        if (!Manip(buffer, hdrlen + 8, other, inverse)) return false;

        var icmp = buffer[hdrlen..];
        ulong pseudo = info.Version == 4 ? 0 : Checksum.PseudoHeader(buffer, info, IpProtocol.Icmpv6, icmp.Length);
        Checksum.Compute(icmp, 2, pseudo);

        var outer = other.Invert() with { Protocol = icmpProto };
        if (!Manip(buffer, 0, outer, manip)) return false;
        return true;
    }
}
