using System.Buffers.Binary;
using SharpTables.Packets;

namespace SharpTables.Engine.Conntrack;

/// <summary>
/// The small trackers: UDP/UDP-Lite (nf_conntrack_proto_udp.c), ICMP and ICMPv6 queries
/// (nf_conntrack_proto_icmp*.c) and everything else (nf_conntrack_proto_generic.c).
/// </summary>
internal static class ProtocolTrackers
{
    private const uint Secs = EngineClock.Hz;
    internal const uint UdpUnreplied = 30 * Secs, UdpReplied = 120 * Secs;
    internal const uint IcmpTimeout = 30 * Secs;
    internal const uint GenericTimeout = 600 * Secs;
    internal const uint GreUnreplied = 30 * Secs, GreReplied = 180 * Secs;

    /// <summary>SCTP entries: nf_conntrack_proto_sctp's timeout for the CLOSED state a new association starts in.</summary>
    internal const uint SctpClosed = 10 * Secs;

    /// <summary>
    /// The validity checks of nf_conntrack_sctp_packet, without its association state machine:
    /// sctp_error (shorter than the 12-byte common header; in PREROUTING with checksums on, a CRC32c
    /// that does not match), do_basic_checks (no chunk, a zero-length chunk, COOKIE-ECHO/ACK not
    /// first or INIT/INIT-ACK/SHUTDOWN-COMPLETE not alone), and for a packet that would start an
    /// entry the out-of-the-blue rules (ABORT, SHUTDOWN-COMPLETE or COOKIE-ACK present, an INIT
    /// with a non-zero verification tag, a chunk type the state table does not know).
    /// True = invalid: the packet gets no conntrack entry.
    /// </summary>
    internal static bool SctpInvalid(ReadOnlySpan<byte> packet, int dataoff, bool verifyChecksum, bool isNew)
    {
        if (packet.Length < dataoff + 12) return true;
        if (verifyChecksum && BinaryPrimitives.ReadUInt32LittleEndian(packet[(dataoff + 8)..]) != SctpChecksum(packet[dataoff..])) return true;
        int count = 0;
        bool single = false, ootb = false, unknown = false;
        for (int offset = dataoff + 12; offset + 4 <= packet.Length; count++)
        {
            byte type = packet[offset];
            int length = BinaryPrimitives.ReadUInt16BigEndian(packet[(offset + 2)..]);
            if (type is SctpInit or SctpInitAck or SctpShutdownComplete) single = true;
            if (((type is SctpCookieAck or SctpCookieEcho || single) && count != 0) || length == 0) return true;
            if (type is SctpAbort or SctpShutdownComplete or SctpCookieAck) ootb = true;
            if (type > SctpShutdownComplete) unknown = true;
            if (isNew && type == SctpInit && BinaryPrimitives.ReadUInt32BigEndian(packet[(dataoff + 4)..]) != 0) return true;
            offset += (length + 3) & ~3;
        }
        if (count == 0) return true;
        return isNew && (ootb || unknown);
    }

    private const byte SctpInit = 1, SctpInitAck = 2, SctpAbort = 6, SctpCookieEcho = 10, SctpCookieAck = 11, SctpShutdownComplete = 14;

    /// <summary>sctp_compute_cksum: CRC32c over the packet with the checksum field as zeros, as the field stores it (little-endian).</summary>
    private static uint SctpChecksum(ReadOnlySpan<byte> sctp)
    {
        uint crc = 0xffffffff;
        for (int i = 0; i < sctp.Length; i++) crc = System.Numerics.BitOperations.Crc32C(crc, i is >= 8 and < 12 ? (byte)0 : sctp[i]);
        return ~crc;
    }

    /// <summary>udp_error / udplite_error: short, truncated or (when checked) badly checksummed datagrams are invalid.</summary>
    internal static bool UdpError(ReadOnlySpan<byte> packet, int dataoff, bool lite, bool verifyChecksum, in PacketInfo info)
    {
        int udplen = packet.Length - dataoff;
        if (udplen < 8) return true;
        int len = BinaryPrimitives.ReadUInt16BigEndian(packet[(dataoff + 4)..]);
        ushort check = BinaryPrimitives.ReadUInt16BigEndian(packet[(dataoff + 6)..]);
        if (lite)
        {
            // the length field is the checksum coverage; 0 = everything
            if (len != 0 && (len < 8 || len > udplen)) return true;
            if (check == 0) return true;
            if (verifyChecksum)
            {
                int cover = len == 0 ? udplen : len;
                ulong sum = Checksum.PseudoHeader(packet, info, IpProtocol.UdpLite, udplen);
                if (Checksum.Fold(Checksum.Add(sum, packet.Slice(dataoff, cover))) != 0xffff) return true;
            }
            return false;
        }
        if (len > udplen || len < 8) return true;
        if (check == 0) return false;
        return verifyChecksum && !Checksum.TransportValid(packet, dataoff, IpProtocol.Udp, info);
    }

    /// <summary>nf_conntrack_udp_packet: 30 s until a reply; two-way traffic still alive after 2 s is a stream (120 s, ASSURED).</summary>
    internal static void UdpPacket(Connection ct, uint now, bool lite)
    {
        if (!ct.Has(ConnStatus.Confirmed)) ct.UdpStreamTimestamp = unchecked(2 * Secs + now);
        if (!ct.Has(ConnStatus.SeenReply))
        {
            ConntrackTable.Refresh(ct, UdpUnreplied, now);
            return;
        }
        if (lite)
        {
            ConntrackTable.Refresh(ct, UdpReplied, now);
            ct.SetStatus(ConnStatus.Assured);
            return;
        }
        uint extra = UdpUnreplied;
        bool stream = false;
        if ((int)(ct.UdpStreamTimestamp - now) < 0)
        {
            extra = UdpReplied;
            stream = !ct.Has(ConnStatus.Assured);
        }
        ConntrackTable.Refresh(ct, extra, now);
        if (stream) ct.SetStatus(ConnStatus.Assured);
    }

    /// <summary>nf_conntrack_icmp_packet: only queries (echo, timestamp, info, address mask) make connections.</summary>
    internal static bool IcmpPacket(Connection ct, byte version, uint now)
    {
        if (version != 4) return false;
        if (ct.Original.IcmpType is not (8 or 13 or 15 or 17)) return false;
        ConntrackTable.Refresh(ct, IcmpTimeout, now);
        return true;
    }

    /// <summary>nf_conntrack_icmpv6_packet: a new entry needs an echo request or node information query.</summary>
    internal static bool Icmpv6Packet(Connection ct, byte version, uint now)
    {
        if (version != 6) return false;
        if (!ct.Has(ConnStatus.Confirmed) && ct.Original.IcmpType is not (128 or 139)) return false;
        ConntrackTable.Refresh(ct, IcmpTimeout, now);
        return true;
    }

    /// <summary>nf_conntrack_gre_packet: 30 s until both directions were seen, then 180 s and ASSURED.</summary>
    internal static void GrePacket(Connection ct, uint now)
    {
        if (ct.Has(ConnStatus.SeenReply))
        {
            ConntrackTable.Refresh(ct, GreReplied, now);
            ct.SetStatus(ConnStatus.Assured);
        }
        else
        {
            ConntrackTable.Refresh(ct, GreUnreplied, now);
        }
    }

    /// <summary>icmp_is_err: ICMP types that quote the packet they complain about.</summary>
    internal static bool IsIcmpError(byte type) => type is 3 or 4 or 5 or 11 or 12;

    /// <summary>noct_valid_new of ICMPv6: multicast listener and neighbour discovery messages, never tracked (UNTRACKED).</summary>
    internal static bool IsIcmpv6Untracked(byte type) => type is 130 or 131 or 132 or 133 or 134 or 135 or 136 or 143 or 151 or 152;
}
