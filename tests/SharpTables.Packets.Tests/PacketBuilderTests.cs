using static SharpTables.Packets.Tests.TestData;

namespace SharpTables.Packets.Tests;

/// <summary>The builder produces exactly the bytes scapy builds for the same fields (Fixtures/scapy_packets.py).</summary>
public class PacketBuilderTests
{
    private static readonly TcpOptionSpec[] ScapyOptions =
    [
        TcpOptionSpec.Mss(1460), TcpOptionSpec.SackPermitted, TcpOptionSpec.Timestamp(12345, 0), TcpOptionSpec.Nop,
        TcpOptionSpec.WindowScale(7),
    ];

    public static TheoryData<string> Cases() => new(ScapyNames);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Builder_matches_scapy(string name)
    {
        byte[] built = Build(name);
        Assert.Equal(Convert.ToHexString(ScapyPacket(name)), Convert.ToHexString(built));
    }

    [Fact]
    public void Write_into_a_span_returns_the_length_and_touches_nothing_after_it()
    {
        var expected = ScapyPacket("udp");
        var buffer = new byte[100];
        buffer.AsSpan().Fill(0xee);
        int n = Udp().Write(buffer);
        Assert.Equal(expected.Length, n);
        Assert.Equal(expected, buffer[..n]);
        Assert.All(buffer[n..], x => Assert.Equal(0xee, x));
    }

    [Fact]
    public void Too_small_a_buffer_is_an_argument_error_not_a_partial_packet()
    {
        var b = Udp();
        var small = new byte[b.Length - 1];
        try { b.Write(small); Assert.Fail("expected ArgumentException"); }
        catch (ArgumentException) { }
        Assert.All(small, x => Assert.Equal(0, x));
    }

    [Fact]
    public void Options_beyond_40_bytes_are_rejected()
    {
        var b = V4(1);
        b.Protocol = IpProtocol.Tcp;
        b.TcpOptions = new byte[41];
        try { b.ToArray(); Assert.Fail("expected ArgumentException"); }
        catch (ArgumentException) { }
    }

    [Fact]
    public void A_broken_extension_header_chain_is_an_argument_error()
    {
        var b = V6();
        b.Protocol = IpProtocol.Udp;
        b.Ipv6ExtensionHeaders = new byte[12]; // a destination-options header is 8 bytes: 4 left over
        b.Ipv6ExtensionHeaderType = IpProtocol.DestinationOptions;
        try { b.ToArray(); Assert.Fail("expected ArgumentException"); }
        catch (ArgumentException) { }
        b.Ipv6ExtensionHeaders = new byte[8];
        b.Ipv6ExtensionHeaderType = IpProtocol.Udp; // not an extension header
        try { b.ToArray(); Assert.Fail("expected ArgumentException"); }
        catch (ArgumentException) { }
    }

    [Fact]
    public void Writing_into_a_span_allocates_nothing()
    {
        var buffer = new byte[128];
        var template = Udp();
        template.Write(buffer);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            var b = template;
            b.SourcePort = (ushort)i;
            b.Write(buffer);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Scapy_option_names_encode_like_the_typed_factories()
    {
        Span<byte> a = stackalloc byte[40], b = stackalloc byte[40];
        TcpOptionSpec[] byName =
        [
            TcpOptionSpec.FromScapy("MSS", [1460]), TcpOptionSpec.FromScapy("SAckOK", []),
            TcpOptionSpec.FromScapy("Timestamp", [12345, 0]), TcpOptionSpec.FromScapy("NOP", []),
            TcpOptionSpec.FromScapy("WScale", [7]),
        ];
        int na = TcpOptionSpec.Write(a, byName), nb = TcpOptionSpec.Write(b, ScapyOptions);
        Assert.Equal(b[..nb].ToArray(), a[..na].ToArray());
        Assert.Throws<ArgumentException>(() => TcpOptionSpec.FromScapy("MSS", []));
        Assert.Throws<ArgumentException>(() => TcpOptionSpec.FromScapy("Bogus", []));
        Assert.Equal(new byte[] { 5, 10, 0, 0, 0, 1, 0, 0, 0, 2 }, Encode(TcpOptionSpec.FromScapy("SAck", [1, 2])));
        Assert.Equal(new byte[] { 99, 4, 1, 2 }, Encode(TcpOptionSpec.FromScapy("99", [1, 2])));
    }

    [Fact]
    public void Kernel_style_quote_fills_576_bytes_for_ipv4()
    {
        var original = new PacketBuilder { Source = Addr(S), Destination = Addr(C), Protocol = IpProtocol.Udp, Payload = new byte[1000] }.ToArray();
        var b = V4(1);
        b.Protocol = IpProtocol.Icmp;
        b.IcmpType = IcmpType.DestinationUnreachable;
        b.IcmpCode = 3;
        b.Quote = original;
        b.QuotePolicy = IcmpQuote.FitMinimumMtu;
        var reply = b.ToArray();
        Assert.Equal(576, reply.Length);
        Assert.Equal(original.AsSpan(0, 576 - 28).ToArray(), reply[28..]);
        Assert.True(Checksum.IsTransportValid(reply));
        b.QuotePolicy = IcmpQuote.Auto;
        Assert.Equal(20 + 8 + 28, b.Length);
    }

    private static byte[] Encode(TcpOptionSpec o)
    {
        var b = new byte[o.EncodedLength];
        TcpOptionSpec.Write(b, [o]);
        return b;
    }

    private static PacketBuilder Udp()
    {
        var b = V4(11);
        b.Ttl = 1;
        b.Protocol = IpProtocol.Udp;
        b.SourcePort = 40005;
        b.DestinationPort = 53;
        b.Payload = "abc"u8;
        return b;
    }

    private static byte[] Quote4()
    {
        var q = new PacketBuilder { Source = Addr(S), Destination = Addr(C), Id = 0x1234, Ttl = 63, Protocol = IpProtocol.Udp, SourcePort = 53, DestinationPort = 40002 };
        q.Payload = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"u8;
        return q.ToArray();
    }

    private static byte[] Quote6()
    {
        var q = new PacketBuilder { Ipv6 = true, Source = Addr(S6), Destination = Addr(C6), Protocol = IpProtocol.Udp, SourcePort = 53, DestinationPort = 40002 };
        var payload = new byte[1400];
        payload.AsSpan().Fill((byte)'y');
        q.Payload = payload;
        return q.ToArray();
    }

    /// <summary>The same fields as the scapy expression of each case in scapy_packets.py.</summary>
    private static byte[] Build(string name)
    {
        PacketBuilder b;
        switch (name)
        {
            case "tcp_syn":
                b = V4(0xB001);
                b.Protocol = IpProtocol.Tcp; b.SourcePort = 40001; b.DestinationPort = 22; b.TcpFlags = TcpFlagBits.Syn; b.Sequence = 1000; b.Window = 64240;
                return b.ToArray();
            case "tcp_options":
                b = V4(0xB002);
                b.Ttl = 63; b.Tos = 0x10;
                b.Protocol = IpProtocol.Tcp; b.SourcePort = 40002; b.DestinationPort = 80; b.TcpFlags = TcpFlagBits.Syn; b.Sequence = 0xdeadbeef; b.Window = 65535;
                b.TcpOptionList = ScapyOptions;
                return b.ToArray();
            case "tcp_options_padded":
                b = V4(7);
                b.Protocol = IpProtocol.Tcp; b.SourcePort = 1; b.DestinationPort = 2; b.TcpFlags = TcpFlagBits.Syn | TcpFlagBits.Ack; b.Sequence = 1; b.Acknowledgment = 2;
                b.TcpOptions = [2, 4, 0x02, 0x18, 3, 3, 14]; // raw bytes: MSS 536, WScale 14
                return b.ToArray();
            case "tcp_all_flags_payload":
                b = V4(9);
                b.DontFragment = true;
                b.Protocol = IpProtocol.Tcp; b.SourcePort = 40003; b.DestinationPort = 443; b.TcpFlags = 0xff; b.Sequence = 5; b.Acknowledgment = 6; b.Window = 100; b.UrgentPointer = 77;
                b.Payload = "hello"u8;
                return b.ToArray();
            case "tcp_padded_len":
                b = V4(10);
                b.Protocol = IpProtocol.Tcp; b.SourcePort = 40004; b.DestinationPort = 80; b.TcpFlags = TcpFlagBits.Ack; b.Sequence = 1; b.Acknowledgment = 1;
                b.TotalLength = 100;
                return b.ToArray();
            case "udp":
                return Udp().ToArray();
            case "icmp_echo":
                b = V4(12);
                b.Protocol = IpProtocol.Icmp; b.IcmpType = IcmpType.EchoRequest; b.IcmpId = 0x4f52; b.IcmpSequence = 1; b.Payload = "ping"u8;
                return b.ToArray();
            case "icmp_port_unreachable":
                b = V4(13);
                b.Protocol = IpProtocol.Icmp; b.IcmpType = IcmpType.DestinationUnreachable; b.IcmpCode = 3; b.Quote = Quote4();
                return b.ToArray();
            case "icmp_frag_needed":
                b = V4(14);
                b.Protocol = IpProtocol.Icmp; b.IcmpType = IcmpType.DestinationUnreachable; b.IcmpCode = 4; b.IcmpSequence = 1400; b.Quote = Quote4();
                return b.ToArray();
            case "ipv4_first_fragment":
                b = V4(15);
                b.MoreFragments = true;
                b.Protocol = IpProtocol.Tcp; b.SourcePort = 40006; b.DestinationPort = 80; b.TcpFlags = TcpFlagBits.Syn; b.Payload = "zzzzzzzzzzzz"u8;
                return b.ToArray();
            case "ipv4_later_fragment":
                b = V4(15);
                b.FragmentOffset = 5; b.Protocol = IpProtocol.Tcp; b.OmitTransportHeader = true; b.Payload = "wwwwwwwwwwwwwwww"u8;
                return b.ToArray();
            case "ipv4_options":
                b = V4(16);
                b.Ipv4Options = [0x94, 4, 0, 0];
                b.Protocol = IpProtocol.Udp; b.SourcePort = 1; b.DestinationPort = 2;
                return b.ToArray();
            case "ipv4_options_padded":
                b = V4(17);
                b.Ipv4Options = [7, 7, 4, 0, 0, 0, 0];
                b.Protocol = IpProtocol.Icmp; b.IcmpType = IcmpType.EchoRequest; b.IcmpId = 1; b.IcmpSequence = 2;
                return b.ToArray();
            case "gre_raw":
                b = V4(18);
                b.Protocol = IpProtocol.Gre; b.Payload = "gre!"u8;
                return b.ToArray();
            case "tcp6":
                b = V6();
                b.FlowLabel = 0xB003; b.Tos = 0x20;
                b.Protocol = IpProtocol.Tcp; b.SourcePort = 40007; b.DestinationPort = 22; b.TcpFlags = TcpFlagBits.Syn; b.Sequence = 1000; b.Window = 64240;
                return b.ToArray();
            case "tcp6_options":
                b = V6();
                b.Ttl = 255;
                b.Protocol = IpProtocol.Tcp; b.SourcePort = 40008; b.DestinationPort = 80; b.TcpFlags = TcpFlagBits.Syn; b.TcpOptionList = ScapyOptions;
                return b.ToArray();
            case "udp6":
                b = V6();
                b.FlowLabel = 0xfffff;
                b.Protocol = IpProtocol.Udp; b.SourcePort = 40009; b.DestinationPort = 53; b.Payload = "abcd"u8;
                return b.ToArray();
            case "icmp6_echo":
                b = V6();
                b.Protocol = IpProtocol.Icmpv6; b.IcmpType = Icmpv6Type.EchoRequest; b.IcmpId = 0x4f52; b.IcmpSequence = 3; b.Payload = "ping6"u8;
                return b.ToArray();
            case "icmp6_port_unreachable":
                b = V6();
                b.Protocol = IpProtocol.Icmpv6; b.IcmpType = Icmpv6Type.DestinationUnreachable; b.IcmpCode = 4; b.Quote = Quote6();
                return b.ToArray();
            case "icmp6_too_big":
                b = V6();
                b.Protocol = IpProtocol.Icmpv6; b.IcmpType = Icmpv6Type.PacketTooBig; b.IcmpRestOfHeader = 1280;
                b.Quote = Quote6(); b.QuotePolicy = IcmpQuote.HeaderPlus8;
                return b.ToArray();
            case "ipv6_fragment_first":
            {
                b = V6();
                var frag = new byte[8];
                PacketBuilder.WriteIpv6FragmentHeader(frag, 0, moreFragments: true, 0x12345678);
                b.Ipv6ExtensionHeaders = frag; b.Ipv6ExtensionHeaderType = IpProtocol.Fragment;
                b.Protocol = IpProtocol.Tcp; b.SourcePort = 40010; b.DestinationPort = 80; b.TcpFlags = TcpFlagBits.Syn;
                return b.ToArray();
            }
            case "ipv6_hbh_fragment_later":
            {
                b = V6();
                var ext = new byte[16];
                ext[0] = IpProtocol.Fragment; ext[2] = 1; ext[3] = 4; // hop-by-hop: PadN of 4
                PacketBuilder.WriteIpv6FragmentHeader(ext.AsSpan(8), 100, moreFragments: false, 7);
                b.Ipv6ExtensionHeaders = ext; b.Ipv6ExtensionHeaderType = IpProtocol.HopByHop;
                b.Protocol = IpProtocol.Udp; b.OmitTransportHeader = true; b.Payload = "qqqqqqqq"u8;
                return b.ToArray();
            }
            case "ipv6_destopt_udp":
            {
                b = V6();
                b.Ipv6ExtensionHeaders = [0, 0, 1, 4, 0, 0, 0, 0]; b.Ipv6ExtensionHeaderType = IpProtocol.DestinationOptions;
                b.Protocol = IpProtocol.Udp; b.SourcePort = 40011; b.DestinationPort = 53; b.Payload = "d"u8;
                return b.ToArray();
            }
            default:
                throw new InvalidOperationException($"no builder case for {name}");
        }
    }
}
