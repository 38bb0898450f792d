using System.Buffers.Binary;
using static SharpTables.Packets.Tests.TestData;

namespace SharpTables.Packets.Tests;

public class RewriterTests
{
    public static TheoryData<string> Cases() => new(ScapyNames);

    /// <summary>
    /// Every rewrite with an incremental checksum update leaves the same bytes as writing the
    /// field and recomputing every checksum from scratch.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void Incremental_update_equals_full_recomputation(string name)
    {
        var original = ScapyPacket(name);
        var rng = new Random(name.GetHashCode(StringComparison.Ordinal) & 0x7fff);
        PacketParser.Parse(original, out var info);
        for (int i = 0; i < 200; i++)
        {
            var p = (byte[])original.Clone();
            uint a4 = (uint)rng.Next() ^ (uint)rng.Next() << 16;
            var a6 = new UInt128((ulong)rng.NextInt64(), (ulong)rng.NextInt64());
            ushort port = (ushort)rng.Next(65536);
            byte b = (byte)rng.Next(256);
            int op = rng.Next(7);
            bool done = op switch
            {
                0 => info.IsIPv4 ? PacketRewriter.SetIpv4Source(p, a4) : PacketRewriter.SetIpv6Source(p, a6),
                1 => info.IsIPv4 ? PacketRewriter.SetIpv4Destination(p, a4) : PacketRewriter.SetIpv6Destination(p, a6),
                2 => PacketRewriter.SetSourcePort(p, port),
                3 => PacketRewriter.SetDestinationPort(p, port),
                4 => PacketRewriter.SetTtl(p, b),
                5 => PacketRewriter.SetTos(p, b),
                _ => PacketRewriter.SetIcmpId(p, port),
            };
            var expected = (byte[])original.Clone();
            bool applies = Write(expected, info, op, a4, a6, port, b);
            Assert.Equal(applies, done);
            if (info.IsIPv4) Checksum.SetIpv4Header(expected);
            if (Checksum.IsTransportValid(original)) Checksum.SetTransport(expected);
            Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(p));
        }
    }

    [Fact]
    public void Udp_without_checksum_keeps_none()
    {
        var p = ScapyPacket("udp").ToArray();
        p[26] = p[27] = 0;
        Assert.True(PacketRewriter.SetIpv4Destination(p, 0x0a000001));
        Assert.True(PacketRewriter.SetDestinationPort(p, 5353));
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(p.AsSpan(26)));
        Assert.True(Checksum.IsIpv4HeaderValid(p));
    }

    [Fact]
    public void Quoted_packet_in_an_icmp_error_gets_its_ports_but_no_tcp_checksum()
    {
        // The 8 quoted TCP bytes hold the ports but not the checksum (tcp_manip_pkt's hdrsize 8).
        var tcp = ScapyPacket("tcp_syn");
        var inner = tcp[..28];
        Assert.True(PacketRewriter.SetIpv4Source(inner, 0x0a000002));
        Assert.True(PacketRewriter.SetSourcePort(inner, 1024));
        Assert.True(Checksum.IsIpv4HeaderValid(inner));
        Assert.Equal(0x0a000002u, BinaryPrimitives.ReadUInt32BigEndian(inner.AsSpan(12)));
        Assert.Equal(1024, BinaryPrimitives.ReadUInt16BigEndian(inner.AsSpan(20)));
        Assert.Equal(tcp[24..28], inner[24..28]);
    }

    [Fact]
    public void Later_fragments_have_no_ports_to_rewrite()
    {
        var p = ScapyPacket("ipv4_later_fragment").ToArray();
        var before = (byte[])p.Clone();
        Assert.False(PacketRewriter.SetSourcePort(p, 1));
        Assert.Equal(before, p);
        Assert.True(PacketRewriter.SetIpv4Source(p, 1));
        Assert.Equal(before[20..], p[20..]);
        Assert.True(Checksum.IsIpv4HeaderValid(p));
    }

    [Fact]
    public void Not_an_ip_packet_is_left_alone()
    {
        byte[] junk = [0x12, 0x34, 0x56];
        Assert.False(PacketRewriter.SetIpv4Source(junk, 1));
        Assert.False(PacketRewriter.SetIpv6Source(junk, 1));
        Assert.False(PacketRewriter.SetTtl(junk, 1));
        Assert.False(PacketRewriter.SetTos(junk, 1));
        Assert.False(PacketRewriter.SetSourcePort(junk, 1));
        Assert.Equal(new byte[] { 0x12, 0x34, 0x56 }, junk);
    }

    [Fact]
    public void Hot_path_pieces_allocate_nothing()
    {
        var packets = ScapyNames.Select(n => ScapyPacket(n).ToArray()).ToArray();
        Run(packets); // warm up (JIT)
        long before = GC.GetAllocatedBytesForCurrentThread();
        Run(packets);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);

        static void Run(byte[][] packets)
        {
            for (int k = 0; k < 100; k++)
            {
                foreach (var p in packets)
                {
                    PacketParser.Parse(p, out _);
                    ParserTests.ExerciseViews(p);
                    PacketRewriter.SetIpv4Source(p, 0x0a000001);
                    PacketRewriter.SetIpv6Destination(p, 5);
                    PacketRewriter.SetSourcePort(p, 7);
                    PacketRewriter.SetTtl(p, 9);
                    PacketRewriter.SetIcmpId(p, 3);
                    Checksum.IsTransportValid(p);
                    Checksum.SetTransport(p);
                }
            }
        }
    }

    /// <summary>Writes the field directly (no checksum care); false when the rewriter must refuse.</summary>
    private static bool Write(byte[] p, PacketInfo info, int op, uint a4, UInt128 a6, ushort port, byte b)
    {
        int t = info.TransportOffset;
        bool ports = t >= 0 && info.Protocol is IpProtocol.Tcp or IpProtocol.Udp;
        bool echo = t >= 0 && info.Protocol is IpProtocol.Icmp or IpProtocol.Icmpv6 && PacketParser.IsEcho(info.Protocol, info.IcmpType);
        switch (op)
        {
            case 0 when info.IsIPv4: BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(12), a4); return true;
            case 0: PacketParser.WriteUInt128(p.AsSpan(8), a6); return true;
            case 1 when info.IsIPv4: BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(16), a4); return true;
            case 1: PacketParser.WriteUInt128(p.AsSpan(24), a6); return true;
            case 2: if (!ports) return false; BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(t), port); return true;
            case 3: if (!ports) return false; BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(t + 2), port); return true;
            case 4: p[info.IsIPv4 ? 8 : 7] = b; return true;
            case 5 when info.IsIPv4: p[1] = b; return true;
            case 5: p[0] = (byte)(0x60 | b >> 4); p[1] = (byte)(b << 4 | (p[1] & 0x0f)); return true;
            default: if (!echo) return false; BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(t + 4), port); return true;
        }
    }
}
