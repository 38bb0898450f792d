using System.Buffers.Binary;
using static SharpTables.Packets.Tests.TestData;

namespace SharpTables.Packets.Tests;

public class ChecksumTests
{
    /// <summary>Scapy cases that carry a complete TCP/UDP/ICMP/ICMPv6 segment.</summary>
    public static TheoryData<string> WithTransport() => new(ScapyNames.Where(n =>
        n is not ("ipv4_later_fragment" or "ipv6_hbh_fragment_later" or "gre_raw")));

    [Fact]
    public void Rfc1071_example()
    {
        // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
        byte[] data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        uint sum = Checksum.Add(0, data);
        Assert.Equal(0xddf2, (ushort)~Checksum.Finish(sum));
        Assert.Equal((ushort)0x220d, Checksum.Compute(data));
        Assert.Equal((ushort)0xfeff, Checksum.Compute([0x01])); // an odd byte is padded with zero: ~0x0100
    }

    [Fact]
    public void Rfc1624_example_gives_zero_not_minus_zero()
    {
        // RFC 1624 section 4: HC = 0xdd2f, m = 0x5555, m' = 0x3285: eqn. 3 gives 0x0000.
        Assert.Equal((ushort)0x0000, Checksum.Update(0xdd2f, (ushort)0x5555, (ushort)0x3285));
    }

    [Theory]
    [MemberData(nameof(WithTransport))]
    public void Scapy_checksums_verify_and_recompute_to_the_same_bytes(string name)
    {
        var p = ScapyPacket(name);
        Assert.True(Checksum.IsTransportValid(p), name);
        var copy = (byte[])p.Clone();
        Assert.True(PacketParser.Parse(copy, out var info));
        int field = info.TransportOffset + Checksum.TransportChecksumOffset(info.Protocol);
        copy[field] ^= 0x5a;
        Assert.False(Checksum.IsTransportValid(copy));
        copy[field] = copy[field + 1] = 0;
        Assert.True(Checksum.SetTransport(copy));
        if (info.IsIPv4)
        {
            Assert.True(Checksum.IsIpv4HeaderValid(p));
            copy[10] = copy[11] = 0;
            Assert.True(Checksum.SetIpv4Header(copy));
        }
        Assert.Equal(Convert.ToHexString(p), Convert.ToHexString(copy));
    }

    [Fact]
    public void No_transport_checksum_for_fragments_raw_protocols_or_truncated_packets()
    {
        Assert.False(Checksum.SetTransport(ScapyPacket("ipv4_later_fragment").ToArray()));
        Assert.False(Checksum.SetTransport(ScapyPacket("gre_raw").ToArray()));
        Assert.False(Checksum.SetTransport(ScapyPacket("ipv6_hbh_fragment_later").ToArray()));
        Assert.False(Checksum.SetTransport(ScapyPacket("tcp_syn")[..39]));
        Assert.False(Checksum.IsTransportValid(ScapyPacket("tcp_syn")[..39]));
    }

    [Fact]
    public void Udp_checksum_zero_is_sent_as_all_ones_and_received_as_none_over_ipv4()
    {
        // Choose the payload word so the sum comes out 0xffff: the computed checksum is 0.
        var b = V4(1);
        b.Protocol = IpProtocol.Udp;
        b.SourcePort = 1;
        b.DestinationPort = 2;
        b.Payload = new byte[2];
        var p = b.ToArray();
        ushort c = BinaryPrimitives.ReadUInt16BigEndian(p.AsSpan(26));
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(28), c);
        Assert.True(Checksum.SetTransport(p));
        Assert.Equal(0xffff, BinaryPrimitives.ReadUInt16BigEndian(p.AsSpan(26)));
        Assert.True(Checksum.IsTransportValid(p));

        var none = ScapyPacket("udp").ToArray();
        none[26] = none[27] = 0;
        Assert.True(Checksum.IsTransportValid(none));
        var none6 = ScapyPacket("udp6").ToArray();
        none6[46] = none6[47] = 0;
        Assert.False(Checksum.IsTransportValid(none6)); // RFC 8200: mandatory over IPv6
    }

    [Fact]
    public void Pseudo_header_sums_add_up_like_the_bytes()
    {
        Span<byte> v4 = stackalloc byte[12];
        BinaryPrimitives.WriteUInt32BigEndian(v4, 0xc6336402);
        BinaryPrimitives.WriteUInt32BigEndian(v4[4..], 0xc6336401);
        v4[9] = 6;
        BinaryPrimitives.WriteUInt16BigEndian(v4[10..], 1234);
        Assert.Equal(Checksum.Finish(Checksum.Add(0, v4)), Checksum.Finish(Checksum.PseudoHeaderV4(0xc6336402, 0xc6336401, 6, 1234)));

        Span<byte> v6 = stackalloc byte[40];
        PacketParser.WriteUInt128(v6, Addr(C6));
        PacketParser.WriteUInt128(v6[16..], Addr(S6));
        BinaryPrimitives.WriteUInt32BigEndian(v6[32..], 70000);
        v6[39] = 58;
        Assert.Equal(Checksum.Finish(Checksum.Add(0, v6)), Checksum.Finish(Checksum.PseudoHeaderV6(Addr(C6), Addr(S6), 58, 70000)));
    }
}
