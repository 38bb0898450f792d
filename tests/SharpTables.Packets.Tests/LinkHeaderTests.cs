using SharpTables.Packets.Capture;

namespace SharpTables.Packets.Tests;

public class LinkHeaderTests
{
    [Fact]
    public void Every_prefix_of_every_fixture_frame_decodes_without_throwing()
    {
        foreach (var path in Directory.GetFiles(TestData.Path(""), "*.pcap*").Where(p => !p.EndsWith(".tsv", StringComparison.Ordinal)))
        {
            using var reader = CaptureReader.Open(File.OpenRead(path));
            while (reader.TryReadNext(out var rec))
            {
                var frame = rec.Data.Span;
                for (int n = 0; n <= frame.Length; n++)
                {
                    var h = LinkHeader.Decode(rec.LinkType, frame[..n]);
                    Assert.True(h.NetworkOffset <= n, $"{path}: network offset {h.NetworkOffset} past {n} bytes");
                    if (n < rec.Link.HeaderLength) Assert.Equal(-1, h.NetworkOffset);
                    if (h.NetworkOffset >= 0) PacketParser.Parse(frame[h.NetworkOffset..n], out _);
                }
            }
        }
    }

    [Fact]
    public void Ethernet_frame_helpers()
    {
        Span<byte> dst = stackalloc byte[6], src = stackalloc byte[6];
        Assert.True(Ethernet.TryParseMac("02:00:5e:10:ab:CD", dst));
        Assert.Equal(new byte[] { 2, 0, 0x5e, 0x10, 0xab, 0xcd }, dst.ToArray());
        Assert.True(Ethernet.TryParseMac("02-00-00-00-00-01", src));
        Assert.False(Ethernet.TryParseMac("02:00:00:00:00", src));
        Assert.False(Ethernet.TryParseMac("02:00:00:00:00:0g", src));

        var v6 = ParserTests.Ipv6Raw(IpProtocol.NoNext, []);
        var frame = Ethernet.Frame(dst, src, v6);
        Assert.Equal(14 + v6.Length, frame.Length);
        Assert.Equal(new byte[] { 0x86, 0xdd }, frame[12..14]);
        var h = LinkHeader.Decode(LinkType.Ethernet, frame);
        Assert.Equal((14, Ethernet.EtherTypeIpv6, LinkPacketType.Host), (h.NetworkOffset, h.Protocol, h.PacketType));
        var v4 = Ethernet.Frame(dst, src, TestData.ScapyPacket("udp"));
        Assert.Equal(new byte[] { 0x08, 0x00 }, v4[12..14]);
    }

    [Fact]
    public void Loopback_families_in_either_byte_order()
    {
        byte[] ip = TestData.ScapyPacket("udp");
        Assert.Equal(Ethernet.EtherTypeIpv4, LinkHeader.Decode(LinkType.Null, [2, 0, 0, 0, .. ip]).Protocol);
        Assert.Equal(Ethernet.EtherTypeIpv4, LinkHeader.Decode(LinkType.Null, [0, 0, 0, 2, .. ip]).Protocol);
        Assert.Equal(Ethernet.EtherTypeIpv6, LinkHeader.Decode(LinkType.Null, [28, 0, 0, 0, .. ip]).Protocol);
        Assert.Equal(Ethernet.EtherTypeIpv6, LinkHeader.Decode(LinkType.Loop, [0, 0, 0, 10, .. ip]).Protocol);
        var other = LinkHeader.Decode(LinkType.Null, [7, 0, 0, 0, .. ip]);
        Assert.Equal((-1, (ushort)0), (other.NetworkOffset, other.Protocol));
        Assert.Equal(0, LinkHeader.Decode(LinkType.RawBsd14, ip).NetworkOffset);
        Assert.Equal(-1, LinkHeader.Decode(LinkType.Raw, [0x10, 0]).NetworkOffset);
        Assert.Equal(-1, LinkHeader.Decode((LinkType)147, ip).NetworkOffset);
    }

    [Fact]
    public void Ieee8023_length_field_is_not_an_ethertype()
    {
        byte[] llc = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x00, 0x26, 0x42, 0x42, 0x03];
        var h = LinkHeader.Decode(LinkType.Ethernet, llc);
        Assert.Equal((-1, (ushort)0), (h.NetworkOffset, h.Protocol));
    }
}
