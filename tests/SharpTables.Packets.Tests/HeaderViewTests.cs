using static SharpTables.Packets.Tests.TestData;

namespace SharpTables.Packets.Tests;

public class HeaderViewTests
{
    [Fact]
    public void Ipv4_view_reads_every_field()
    {
        var p = ScapyPacket("ipv4_options");
        Assert.True(Ipv4Header.TryRead(p, out var ip));
        Assert.True(ip.IsValid);
        Assert.Equal(4, ip.Version);
        Assert.Equal(24, ip.HeaderLength);
        Assert.Equal(new byte[] { 0x94, 4, 0, 0 }, ip.Options.ToArray());
        Assert.Equal(32, ip.TotalLength);
        Assert.Equal(16, ip.Id);
        Assert.Equal(IpProtocol.Udp, ip.Protocol);
        Assert.Equal((uint)Addr(C), ip.Source);
        Assert.Equal((uint)Addr(S), ip.Destination);
        Assert.True(ip.IsChecksumValid);
        Assert.Equal(8, ip.Payload.Length);

        Assert.True(Ipv4Header.TryRead(ScapyPacket("tcp_all_flags_payload"), out var df));
        Assert.True(df.DontFragment);
        Assert.False(df.MoreFragments || df.IsFragment || df.Reserved);
        Assert.True(Ipv4Header.TryRead(ScapyPacket("ipv4_later_fragment"), out var frag));
        Assert.True(frag.IsFragment);
        Assert.Equal(5, frag.FragmentOffset);
    }

    [Fact]
    public void Ipv4_view_validity()
    {
        var p = ScapyPacket("tcp_syn");
        Assert.False(Ipv4Header.TryRead(p.AsSpan(0, 19), out _));
        Assert.False(Ipv4Header.TryRead(ScapyPacket("tcp6"), out _));
        Assert.True(Ipv4Header.TryRead(p.AsSpan(0, 30), out var cut));
        Assert.False(cut.IsValid); // total length 40 > 30 bytes present
        Assert.Equal(10, cut.Payload.Length);
        var bad = (byte[])p.Clone();
        bad[10] ^= 1;
        Assert.False(new Ipv4Header(bad).IsChecksumValid);
    }

    [Fact]
    public void Tcp_options_enumerate_like_scapy_wrote_them()
    {
        var p = ScapyPacket("tcp_options");
        Assert.True(TcpHeader.TryRead(p.AsSpan(20), out var tcp));
        Assert.True(tcp.IsValid);
        Assert.Equal(40, tcp.HeaderLength);
        Assert.Equal(0xdeadbeefu, tcp.Sequence);
        Assert.True(tcp.Syn && !tcp.Ack);
        var kinds = new List<byte>();
        var e = tcp.Options;
        foreach (var o in e)
        {
            kinds.Add(o.Kind);
            switch (o.Kind)
            {
                case TcpOptionKind.Mss: Assert.Equal(1460, o.Mss); break;
                case TcpOptionKind.Timestamp: Assert.Equal((12345u, 0u), (o.TimestampValue, o.TimestampEcho)); break;
                case TcpOptionKind.WindowScale: Assert.Equal(7, o.WindowScale); break;
                case TcpOptionKind.SackPermitted: Assert.Equal(0, o.Value.Length); break;
            }
        }
        Assert.Equal(new byte[] { 2, 4, 8, 1, 3 }, kinds.ToArray());
        Assert.False(e.Malformed);
    }

    [Fact]
    public void Tcp_padding_is_one_end_of_list_option()
    {
        // MSS (4 bytes) + WScale (3 bytes), padded by scapy with one zero byte: EOL.
        var tcp = new TcpHeader(ScapyPacket("tcp_options_padded").AsSpan(20));
        var kinds = new List<(byte, int)>();
        foreach (var o in tcp.Options) kinds.Add((o.Kind, o.Offset));
        Assert.Equal([(TcpOptionKind.Mss, 0), (TcpOptionKind.WindowScale, 4), (TcpOptionKind.EndOfList, 7)], kinds);
    }

    [Fact]
    public void Tcp_sack_blocks()
    {
        var b = V4(1);
        b.Protocol = IpProtocol.Tcp;
        TcpOptionSpec[] options = [TcpOptionSpec.Nop, TcpOptionSpec.Nop, TcpOptionSpec.Sack(100, 200, 300, 400)];
        b.TcpOptionList = options;
        var p = b.ToArray();
        var e = new TcpHeader(p.AsSpan(20)).Options;
        Assert.True(e.MoveNext()); Assert.Equal(TcpOptionKind.Nop, e.Current.Kind);
        Assert.True(e.MoveNext()); Assert.Equal(TcpOptionKind.Nop, e.Current.Kind);
        Assert.True(e.MoveNext());
        var sack = e.Current;
        Assert.Equal(TcpOptionKind.Sack, sack.Kind);
        Assert.Equal(2, sack.SackBlockCount);
        Assert.Equal((100u, 200u, 300u, 400u), (sack.SackLeft(0), sack.SackRight(0), sack.SackLeft(1), sack.SackRight(1)));
        Assert.False(e.MoveNext());
    }

    [Theory]
    [InlineData(new byte[] { 2, 1, 0, 0 })]          // length below 2
    [InlineData(new byte[] { 1, 2, 8, 0 })]          // runs past the options
    [InlineData(new byte[] { 1, 1, 1, 2 })]          // kind with no length byte
    public void Tcp_malformed_options_end_the_walk(byte[] options)
    {
        var e = new TcpOptionEnumerator(options);
        int count = 0;
        while (e.MoveNext()) count++;
        Assert.True(e.Malformed);
        Assert.True(count < options.Length);
    }

    [Fact]
    public void Udp_and_icmp_views()
    {
        var u = ScapyPacket("udp");
        Assert.True(UdpHeader.TryRead(u.AsSpan(20), out var udp));
        Assert.True(udp.IsValid);
        Assert.Equal((40005, 53, 11), (udp.SourcePort, udp.DestinationPort, udp.Length));
        Assert.Equal("abc"u8.ToArray(), udp.Payload.ToArray());
        var longer = (byte[])u.Clone();
        longer[25] = 12; // UDP length beyond the datagram
        Assert.False(new UdpHeader(longer.AsSpan(20)).IsValid);

        var f = ScapyPacket("icmp_frag_needed");
        Assert.True(IcmpHeader.TryRead(f.AsSpan(20), out var icmp));
        Assert.Equal((IcmpType.DestinationUnreachable, (byte)4, (ushort)1400), (icmp.Type, icmp.Code, icmp.NextHopMtu));
        Assert.Equal(28, icmp.Data.Length);
        Assert.True(PacketParser.Parse(icmp.Data, out var quoted));
        Assert.Equal((53, 40002), (quoted.SourcePort, quoted.DestinationPort));
        Assert.Equal(PacketFlags.Truncated, quoted.Flags);

        var big = ScapyPacket("icmp6_too_big");
        Assert.Equal(1280u, new IcmpHeader(big.AsSpan(40)).RestOfHeader);
    }

    [Fact]
    public void Ipv6_extension_walk_yields_each_header()
    {
        var p = ScapyPacket("ipv6_hbh_fragment_later");
        Assert.True(Ipv6Header.TryRead(p, out var ip));
        Assert.True(ip.IsValid);
        var walk = ip.ExtensionHeaders;
        Assert.True(walk.MoveNext());
        Assert.Equal((IpProtocol.HopByHop, 40, 8, IpProtocol.Fragment), (walk.Current.Type, walk.Current.Offset, walk.Current.Length, walk.Current.NextHeader));
        Assert.True(walk.MoveNext());
        var frag = walk.Current;
        Assert.Equal((IpProtocol.Fragment, 48, (ushort)100, false, 7u), (frag.Type, frag.Offset, frag.FragmentOffset, frag.MoreFragments, frag.FragmentId));
        Assert.False(walk.MoveNext());
        Assert.True(walk.NonFirstFragment);
        Assert.False(walk.Truncated);
        Assert.Equal(IpProtocol.Udp, walk.NextHeader);
        Assert.Equal(56, walk.Offset);
    }

    [Fact]
    public void Ipv6_extension_walk_stops_at_a_cut_header()
    {
        var p = ScapyPacket("ipv6_fragment_first");
        var walk = new Ipv6ExtensionHeaderEnumerator(p.AsSpan(0, 43)); // 3 bytes of the fragment header
        Assert.False(walk.MoveNext());
        Assert.True(walk.Truncated);
        Assert.Equal(IpProtocol.Fragment, walk.NextHeader);
        Assert.True(Ipv6Header.IsExtensionHeader(IpProtocol.Ah));
        Assert.False(Ipv6Header.IsExtensionHeader(IpProtocol.Mobility));
        Assert.False(Ipv6Header.IsExtensionHeader(IpProtocol.Esp));
    }
}
