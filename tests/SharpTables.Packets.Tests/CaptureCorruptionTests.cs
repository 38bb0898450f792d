using System.Buffers.Binary;
using SharpTables.Packets.Capture;

namespace SharpTables.Packets.Tests;

/// <summary>Broken file structure is a <see cref="CaptureFormatException"/> naming the problem; the records before it are still read.</summary>
public class CaptureCorruptionTests
{
    private static readonly byte[] Packet = TestData.ScapyPacket("udp");

    [Fact]
    public void Not_a_capture_file()
    {
        Assert.Contains("only 0 bytes", Open([]).Message, StringComparison.Ordinal);
        Assert.Contains("magic 0x47494638", Open("GIF89a........................"u8.ToArray()).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Pcap_header_problems()
    {
        var file = Pcap(1);
        Assert.Contains("file header cut short", Open(file[..20]).Message, StringComparison.Ordinal);
        var v3 = (byte[])file.Clone();
        v3[4] = 3;
        Assert.Contains("unsupported pcap version 3.4", Open(v3).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Pcap_record_longer_than_anything_plausible()
    {
        var file = Pcap(3);
        int second = 24 + 16 + Packet.Length;
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(second + 8), 0x7fffffff);
        var (read, error) = ReadUntilError(file);
        Assert.Equal(1, read);
        Assert.Equal($"pcap record 2 at offset {second}: captured length 2147483647 exceeds the maximum 262144", error?.Message);
    }

    [Fact]
    public void Pcapng_block_length_problems()
    {
        var file = Pcapng(out int epb);
        var odd = (byte[])file.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(odd.AsSpan(epb + 4), 13);
        Assert.Equal($"pcapng block of type 6 at offset {epb}: bad block length 13", ReadUntilError(odd).Error?.Message);

        var mismatch = (byte[])file.Clone();
        mismatch[^4] ^= 4;
        var (read, error) = ReadUntilError(mismatch);
        Assert.Equal(1, read);
        Assert.Contains("trailing length", error?.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Pcapng_packet_block_problems()
    {
        var file = Pcapng(out int epb);
        var caplen = (byte[])file.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(caplen.AsSpan(epb + 20), 1000);
        Assert.Equal($"pcapng block of type 6 at offset {epb}: captured length 1000 exceeds the block", ReadUntilError(caplen).Error?.Message);

        var iface = (byte[])file.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(iface.AsSpan(epb + 8), 5);
        Assert.Equal($"pcapng block of type 6 at offset {epb}: interface 5 was not described (section has 1)", ReadUntilError(iface).Error?.Message);
    }

    [Fact]
    public void Pcapng_section_and_interface_problems()
    {
        var file = Pcapng(out _);
        var bom = (byte[])file.Clone();
        bom[8] = 0x11;
        Assert.Contains("bad byte-order magic", Open(bom).Message, StringComparison.Ordinal);

        var version = (byte[])file.Clone();
        version[12] = 2;
        Assert.Contains("unsupported version 2.0", Open(version).Message, StringComparison.Ordinal);

        // if_name option (at IDB offset 16) claiming 200 bytes
        var option = (byte[])file.Clone();
        BinaryPrimitives.WriteUInt16LittleEndian(option.AsSpan(28 + 18), 200);
        Assert.Equal("pcapng block of type 1 at offset 28: option 2 of 200 bytes runs past the block", ReadUntilError(option).Error?.Message);

        var resolution = (byte[])file.Clone();
        int tsresol = Array.IndexOf(resolution, (byte)9, 28 + 16 + 8); // the if_tsresol value byte follows code 9, length 1
        resolution[tsresol + 4] = 0x40; // 10^-64 s
        Assert.Contains("if_tsresol 64 is out of range", ReadUntilError(resolution).Error?.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Simple_packet_before_any_interface()
    {
        var ms = new MemoryStream();
        using (var w = new PcapngWriter(ms, leaveOpen: true)) { }
        byte[] spb = [3, 0, 0, 0, 20, 0, 0, 0, 4, 0, 0, 0, 1, 2, 3, 4, 20, 0, 0, 0];
        ms.Write(spb);
        Assert.Equal("pcapng block of type 3 at offset 28: no interface described before it", ReadUntilError(ms.ToArray()).Error?.Message);
    }

    [Fact]
    public void Packet_contents_never_raise()
    {
        // Garbage packet bytes in a well-formed file are just packets.
        var ms = new MemoryStream();
        using (var w = new PcapWriter(ms, LinkType.LinuxSll2, leaveOpen: true))
        {
            w.Write(0, []);
            w.Write(0, [0xff]);
            w.Write(0, new byte[19]);
            w.Write(0, Enumerable.Repeat((byte)0x86, 40).ToArray());
        }
        var (read, error) = ReadUntilError(ms.ToArray());
        Assert.Null(error);
        Assert.Equal(4, read);
    }

    private static CaptureFormatException Open(byte[] bytes) =>
        Assert.Throws<CaptureFormatException>(() => CaptureReader.Open(new MemoryStream(bytes)).Dispose());

    private static (int Read, CaptureFormatException? Error) ReadUntilError(byte[] bytes)
    {
        int n = 0;
        try
        {
            using var reader = CaptureReader.Open(new MemoryStream(bytes));
            while (reader.TryReadNext(out var rec))
            {
                PacketParser.Parse(rec.IpPacket, out _);
                n++;
            }
            return (n, null);
        }
        catch (CaptureFormatException e)
        {
            return (n, e);
        }
    }

    private static byte[] Pcap(int count)
    {
        var ms = new MemoryStream();
        using (var w = new PcapWriter(ms, LinkType.Ipv4, leaveOpen: true))
            for (int i = 0; i < count; i++) w.Write(i, Packet);
        return ms.ToArray();
    }

    /// <summary>SHB (28 bytes), IDB with if_name "eth0" and if_tsresol, then two EPBs; <paramref name="secondEpb"/> is the second's offset.</summary>
    private static byte[] Pcapng(out int secondEpb)
    {
        var ms = new MemoryStream();
        using (var w = new PcapngWriter(ms, leaveOpen: true))
        {
            w.AddInterface(LinkType.Ipv4, "eth0");
            w.WritePacket(0, 1, Packet);
            secondEpb = (int)ms.Position;
            w.WritePacket(0, 2, Packet);
        }
        return ms.ToArray();
    }
}
