using static SharpTables.Packets.Tests.TestData;

namespace SharpTables.Packets.Tests;

public class ParserTests
{
    public static TheoryData<string> Cases() => new(ScapyNames);

    [Fact]
    public void Empty_and_garbage_input_is_not_an_exception()
    {
        Assert.False(PacketParser.Parse([], out _));
        Assert.False(PacketParser.Parse([0x45, 0, 0], out var info));
        Assert.True((info.Flags & PacketFlags.Truncated) != 0);
        Assert.False(PacketParser.Parse([0x10, 1, 2, 3], out _));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Every_prefix_parses_without_throwing_and_is_flagged_truncated(string name)
    {
        var packet = ScapyPacket(name);
        Assert.True(PacketParser.Parse(packet, out var whole));
        Assert.Equal(PacketFlags.None, whole.Flags & (PacketFlags.Truncated | PacketFlags.BadNetworkHeader | PacketFlags.TransportTruncated | PacketFlags.BadTransportHeader));
        for (int n = 0; n < packet.Length; n++)
        {
            var prefix = packet.AsSpan(0, n);
            bool ip = PacketParser.Parse(prefix, out var info);
            int minimum = whole.IsIPv4 ? 20 : 40;
            Assert.Equal(n >= minimum, ip);
            if (n > 0) Assert.True((info.Flags & PacketFlags.Truncated) != 0, $"{name}: prefix {n} not flagged truncated");
            if (n >= minimum)
            {
                // What the header says is still reported.
                Assert.Equal(whole.Source, info.Source);
                Assert.Equal(whole.TotalLength, info.TotalLength);
                Assert.Equal(n, info.Length);
            }
            // A transport header that is there is reported; one that is cut is flagged, never read past the end.
            if (info.TransportOffset >= 0 && whole.HasTransportHeader && !info.HasTransportHeader)
                Assert.True((info.Flags & (PacketFlags.TransportTruncated | PacketFlags.BadTransportHeader)) != 0);
            if (info.HasTransportHeader)
            {
                Assert.Equal(whole.SourcePort, info.SourcePort);
                Assert.Equal(whole.IcmpType, info.IcmpType);
            }
            ExerciseViews(prefix);
        }
    }

    [Fact]
    public void Random_bytes_never_throw()
    {
        var rng = new Random(1234);
        var buf = new byte[200];
        for (int i = 0; i < 20000; i++)
        {
            int n = rng.Next(buf.Length);
            rng.NextBytes(buf.AsSpan(0, n));
            if (n > 0) buf[0] = (byte)((rng.Next(2) == 0 ? 0x40 : 0x60) | (buf[0] & 0x0f));
            if (n > 6 && buf[0] >> 4 == 6 && rng.Next(2) == 0) buf[6] = (byte)(rng.Next(4) switch { 0 => 0, 1 => 44, 2 => 60, _ => 51 });
            PacketParser.Parse(buf.AsSpan(0, n), out _);
            ExerciseViews(buf.AsSpan(0, n));
            var copy = buf.AsSpan(0, n).ToArray();
            PacketRewriter.SetIpv4Source(copy, 1);
            PacketRewriter.SetIpv6Destination(copy, 1);
            PacketRewriter.SetSourcePort(copy, 1);
            PacketRewriter.SetIcmpId(copy, 1);
            PacketRewriter.SetTtl(copy, 1);
            Checksum.SetTransport(copy);
        }
    }

    [Fact]
    public void Ipv4_header_fields()
    {
        Assert.True(PacketParser.Parse(ScapyPacket("tcp_all_flags_payload"), out var i));
        Assert.Equal(4, i.Version);
        Assert.Equal(Addr(C), i.Source);
        Assert.Equal(Addr(S), i.Destination);
        Assert.Equal(IpProtocol.Tcp, i.Protocol);
        Assert.Equal(9, i.Id);
        Assert.Equal(64, i.Ttl);
        Assert.Equal(PacketFlags.DontFragment, i.Flags);
        Assert.Equal(20, i.TransportOffset);
        Assert.Equal((40003, 443), (i.SourcePort, i.DestinationPort));
        Assert.Equal(0xff, i.TcpFlags);
        Assert.Equal((5u, 6u, (ushort)100, (ushort)77), (i.TcpSequence, i.TcpAcknowledgment, i.TcpWindow, i.TcpUrgentPointer));
        Assert.Equal(45, i.TotalLength);
    }

    [Fact]
    public void Ipv4_options_move_the_transport_header()
    {
        Assert.True(PacketParser.Parse(ScapyPacket("ipv4_options"), out var i));
        Assert.Equal(24, i.HeaderLength);
        Assert.Equal(24, i.TransportOffset);
        Assert.Equal(PacketFlags.HasIpOptions, i.Flags);
        Assert.Equal((1, 2), (i.SourcePort, i.DestinationPort));
    }

    [Fact]
    public void Ipv4_fragments()
    {
        Assert.True(PacketParser.Parse(ScapyPacket("ipv4_first_fragment"), out var first));
        Assert.Equal(PacketFlags.MoreFragments, first.Flags);
        Assert.Equal(40006, first.SourcePort);
        Assert.False(first.IsFragment);

        Assert.True(PacketParser.Parse(ScapyPacket("ipv4_later_fragment"), out var later));
        Assert.True(later.IsFragment);
        Assert.Equal(5, later.FragmentOffset);
        Assert.Equal(-1, later.TransportOffset);
        Assert.Equal(0, later.SourcePort);
        Assert.Equal(IpProtocol.Tcp, later.Protocol);
    }

    [Fact]
    public void Ipv4_bad_headers_are_flagged()
    {
        var p = ScapyPacket("tcp_syn");
        var ihl4 = (byte[])p.Clone();
        ihl4[0] = 0x44;
        Assert.True(PacketParser.Parse(ihl4, out var a));
        Assert.True((a.Flags & PacketFlags.BadNetworkHeader) != 0);
        Assert.Equal(-1, a.TransportOffset);

        var shortTotal = (byte[])p.Clone();
        shortTotal[3] = 19; // total length below the header length
        Assert.True(PacketParser.Parse(shortTotal, out var b));
        Assert.True((b.Flags & PacketFlags.BadNetworkHeader) != 0);

        var longTotal = (byte[])p.Clone();
        longTotal[3] = 41; // one byte more than present
        Assert.True(PacketParser.Parse(longTotal, out var c));
        Assert.Equal(PacketFlags.Truncated, c.Flags);
        Assert.True(c.HasTransportHeader);
    }

    [Fact]
    public void Ethernet_padding_after_the_total_length_is_ignored()
    {
        var p = ScapyPacket("udp").Concat(new byte[20]).ToArray();
        Assert.True(PacketParser.Parse(p, out var i));
        Assert.Equal(PacketFlags.None, i.Flags);
        Assert.Equal(31, i.TotalLength);
        Assert.Equal(p.Length, i.Length);
    }

    [Fact]
    public void Tcp_data_offset_below_5_or_past_the_segment_is_a_bad_transport_header()
    {
        var p = ScapyPacket("tcp_syn");
        foreach (byte doff in new byte[] { 0x40, 0x60 })
        {
            var q = (byte[])p.Clone();
            q[32] = doff;
            Assert.True(PacketParser.Parse(q, out var i));
            Assert.Equal(PacketFlags.BadTransportHeader, i.Flags);
            Assert.False(i.HasTransportHeader);
            Assert.Equal(40001, i.SourcePort); // the ports are still there for LOG
        }
    }

    [Fact]
    public void Ipv6_fields_and_flow_label()
    {
        Assert.True(PacketParser.Parse(ScapyPacket("tcp6"), out var i));
        Assert.Equal(6, i.Version);
        Assert.Equal(Addr(C6), i.Source);
        Assert.Equal(Addr(S6), i.Destination);
        Assert.Equal(0xB003u, i.FlowLabel);
        Assert.Equal(0x20, i.Tos);
        Assert.Equal(40, i.TransportOffset);
        Assert.Equal(IpProtocol.Tcp, i.Protocol);
        Assert.Equal(TcpFlagBits.Syn, i.TcpFlags);
    }

    [Fact]
    public void Ipv6_first_fragment_has_a_transport_header()
    {
        Assert.True(PacketParser.Parse(ScapyPacket("ipv6_fragment_first"), out var i));
        Assert.Equal(PacketFlags.HasFragmentHeader | PacketFlags.MoreFragments, i.Flags);
        Assert.Equal(0x12345678u, i.FragmentId);
        Assert.Equal(IpProtocol.Tcp, i.Protocol);
        Assert.Equal(48, i.TransportOffset);
        Assert.Equal((40010, 80), (i.SourcePort, i.DestinationPort));
    }

    [Fact]
    public void Ipv6_later_fragment_after_hop_by_hop_reports_the_protocol_but_no_header()
    {
        Assert.True(PacketParser.Parse(ScapyPacket("ipv6_hbh_fragment_later"), out var i));
        Assert.True(i.IsFragment);
        Assert.Equal(PacketFlags.HasFragmentHeader | PacketFlags.Fragment, i.Flags);
        Assert.Equal(100, i.FragmentOffset);
        Assert.Equal(7u, i.FragmentId);
        Assert.Equal(IpProtocol.Udp, i.Protocol);
        Assert.Equal(-1, i.TransportOffset);
    }

    [Fact]
    public void Ipv6_destination_options_are_skipped()
    {
        Assert.True(PacketParser.Parse(ScapyPacket("ipv6_destopt_udp"), out var i));
        Assert.Equal(IpProtocol.Udp, i.Protocol);
        Assert.Equal(48, i.TransportOffset);
        Assert.Equal((40011, 53), (i.SourcePort, i.DestinationPort));
    }

    /// <summary>
    /// Kernel ground truth (Fixtures/oracle/mh.*): ipv6_find_hdr does not skip the mobility
    /// header, so <c>-p mobility-header</c> matched; a destination-options header that claims
    /// more bytes than the packet has still names UDP (<c>-p udp</c> matched).
    /// </summary>
    [Fact]
    public void Ipv6_mobility_header_is_the_protocol_as_in_the_kernel()
    {
        var mh = Ipv6Raw(135, Convert.FromHexString("11000000000000009c40003500080000"));
        Assert.True(PacketParser.Parse(mh, out var i));
        Assert.Equal(135, i.Protocol);
        Assert.Equal(40, i.TransportOffset);
        Assert.Equal(PacketFlags.None, i.Flags);

        var overlong = Ipv6Raw(60, Convert.FromHexString("1101010400000000"));
        Assert.True(PacketParser.Parse(overlong, out var o));
        Assert.Equal(IpProtocol.Udp, o.Protocol);
        Assert.Equal(PacketFlags.Truncated, o.Flags);
        Assert.Equal(-1, o.TransportOffset);
    }

    [Fact]
    public void Ipv6_long_chains_of_extension_headers_are_walked_to_the_end()
    {
        // 40 destination-options headers, then UDP: the kernel's walk has no depth limit.
        var ext = new byte[40 * 8 + 8];
        for (int k = 0; k < 40; k++) ext[k * 8] = k == 39 ? IpProtocol.Udp : IpProtocol.DestinationOptions;
        ext[320] = 0x12; ext[321] = 0x34; // source port
        Assert.True(PacketParser.Parse(Ipv6Raw(60, ext), out var i));
        Assert.Equal(IpProtocol.Udp, i.Protocol);
        Assert.Equal(0x1234, i.SourcePort);
        Assert.Equal(PacketFlags.None, i.Flags);
    }

    [Fact]
    public void Ipv6_ah_length_counts_in_4_byte_units()
    {
        // AH with payload length 4: (4 + 2) * 4 = 24 bytes, then UDP.
        var ext = new byte[24 + 8];
        ext[0] = IpProtocol.Udp;
        ext[1] = 4;
        ext[24] = 0x00; ext[25] = 0x07;
        Assert.True(PacketParser.Parse(Ipv6Raw(IpProtocol.Ah, ext), out var i));
        Assert.Equal(IpProtocol.Udp, i.Protocol);
        Assert.Equal(64, i.TransportOffset);
        Assert.Equal(7, i.SourcePort);
    }

    [Fact]
    public void Ipv6_no_next_header_has_no_transport()
    {
        Assert.True(PacketParser.Parse(Ipv6Raw(IpProtocol.NoNext, new byte[8]), out var i));
        Assert.Equal(IpProtocol.NoNext, i.Protocol);
        Assert.Equal(-1, i.TransportOffset);
        Assert.Equal(PacketFlags.None, i.Flags);
    }

    [Fact]
    public void Icmp_echo_id_and_sequence()
    {
        Assert.True(PacketParser.Parse(ScapyPacket("icmp_echo"), out var i));
        Assert.Equal((IcmpType.EchoRequest, (byte)0, (ushort)0x4f52, (ushort)1), (i.IcmpType, i.IcmpCode, i.IcmpId, i.IcmpSequence));
        Assert.True(PacketParser.Parse(ScapyPacket("icmp6_echo"), out var j));
        Assert.Equal((Icmpv6Type.EchoRequest, (ushort)0x4f52, (ushort)3), (j.IcmpType, j.IcmpId, j.IcmpSequence));
        Assert.True(PacketParser.Parse(ScapyPacket("icmp_port_unreachable"), out var e));
        Assert.Equal((IcmpType.DestinationUnreachable, (byte)3, (ushort)0), (e.IcmpType, e.IcmpCode, e.IcmpId));
    }

    internal static byte[] Ipv6Raw(byte nextHeader, byte[] payload)
    {
        var b = V6();
        b.Protocol = nextHeader;
        b.Payload = payload;
        return b.ToArray();
    }

    /// <summary>Every view and enumerator over arbitrary bytes: none may throw once TryRead said yes.</summary>
    internal static void ExerciseViews(ReadOnlySpan<byte> p)
    {
        if (Ipv4Header.TryRead(p, out var v4))
        {
            _ = v4.IsValid; _ = v4.Options.Length; _ = v4.Payload.Length; _ = v4.IsChecksumValid;
            _ = v4.Source + v4.Destination + v4.Id + v4.FragmentOffset + v4.TotalLength;
            Transport(v4.Protocol, v4.Payload);
        }
        if (Ipv6Header.TryRead(p, out var v6))
        {
            _ = v6.IsValid; _ = v6.Payload.Length; _ = v6.FlowLabel + v6.TrafficClass;
            var walk = v6.ExtensionHeaders;
            foreach (var h in walk) { _ = h.Bytes.Length; _ = h.NextHeader; if (h.Type == IpProtocol.Fragment) _ = h.FragmentId + h.FragmentOffset; }
            var w = v6.ExtensionHeaders;
            while (w.MoveNext()) { }
            if (w.Offset <= v6.Payload.Length + 40) Transport(w.NextHeader, SpanFrom(p[..Math.Min(p.Length, v6.TotalLength)], w.Offset));
        }
    }

    private static ReadOnlySpan<byte> SpanFrom(ReadOnlySpan<byte> p, int off) => off <= p.Length ? p[off..] : default;

    private static void Transport(byte protocol, ReadOnlySpan<byte> t)
    {
        if (protocol == IpProtocol.Tcp && TcpHeader.TryRead(t, out var tcp))
        {
            _ = tcp.IsValid; _ = tcp.Payload.Length; _ = tcp.Flags + tcp.Window + tcp.Sequence;
            foreach (var o in tcp.Options)
            {
                _ = o.Mss + o.WindowScale + o.TimestampValue + o.TimestampEcho;
                for (int k = 0; k < o.SackBlockCount; k++) _ = o.SackLeft(k) + o.SackRight(k);
            }
        }
        if (protocol == IpProtocol.Udp && UdpHeader.TryRead(t, out var udp)) { _ = udp.IsValid; _ = udp.Payload.Length; }
        if (protocol is IpProtocol.Icmp or IpProtocol.Icmpv6 && IcmpHeader.TryRead(t, out var icmp)) { _ = icmp.Data.Length; _ = icmp.Identifier + icmp.RestOfHeader; }
    }
}
