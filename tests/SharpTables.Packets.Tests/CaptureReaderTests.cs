using System.Globalization;
using System.Net;
using SharpTables.Packets.Capture;

namespace SharpTables.Packets.Tests;

/// <summary>
/// Files written by scapy, tcpdump, dumpcap and by hand from the pcapng draft
/// (Fixtures/make_captures.py) decode as tshark decodes them (Fixtures/*.tshark.tsv).
/// </summary>
public class CaptureReaderTests
{
    public static TheoryData<string> Files() => new(Directory.GetFiles(TestData.Path(""), "*.tshark.tsv")
        .Select(p => System.IO.Path.GetFileName(p)[..^".tshark.tsv".Length]).Order(StringComparer.Ordinal));

    [Theory]
    [MemberData(nameof(Files))]
    public void Decodes_like_tshark(string file)
    {
        var rows = TsharkRows(TestData.Path(file + ".tshark.tsv"));
        using var reader = CaptureReader.Open(File.OpenRead(TestData.Path(file)));
        int n = 0;
        while (reader.TryReadNext(out var rec))
        {
            Assert.True(n < rows.Count, $"{file}: more records than tshark shows");
            CompareWithTshark(file, rows[n], rec);
            n++;
        }
        Assert.Equal(rows.Count, n);
        Assert.False(reader.IsTruncated);
        Assert.Equal(n, reader.RecordCount);
    }

    [Fact]
    public void Handmade_pcapng_sections_interfaces_and_resolutions()
    {
        using var reader = CaptureReader.Open(File.OpenRead(TestData.Path("handmade-two-sections.pcapng")));
        var r = Assert.IsType<PcapngReader>(reader);
        Assert.True(r.IsBigEndian);
        var got = new List<(int, LinkType, string?, long)>();
        while (reader.TryReadNext(out var rec)) got.Add((rec.InterfaceIndex, rec.LinkType, rec.InterfaceName, rec.TimestampNanoseconds));
        Assert.False(r.IsBigEndian); // the second section is little-endian
        Assert.Equal(
        [
            (0, LinkType.Ethernet, "eth0", 1700000000_987654321L),     // if_tsresol 9
            (1, LinkType.Raw, null, 1700000000_250000000L),            // no if_tsresol: microseconds
            (2, LinkType.Ipv4, null, 1700001000_500000000L),           // 2^-20 s units, if_tsoffset 1000 s
            (0, LinkType.Ethernet, "eth0", 0L),                        // simple packet block: no timestamp
            (0, LinkType.LinuxSll2, "any", 1700000020_007000000L),     // new section: its own interface 0, ms
        ], got);
        Assert.Single(reader.Interfaces);
    }

    [Fact]
    public void Cooked_and_vlan_headers_decode_their_fields()
    {
        var sll = ReadAll("scapy-sll.pcap");
        Assert.Equal(LinkPacketType.Outgoing, sll[0].Link.PacketType);
        Assert.Equal(1, sll[0].Link.HardwareType);
        Assert.Equal("02:00:00:00:00:0a", Mac(sll[0].SourceAddress));
        Assert.Equal(16, sll[0].Link.NetworkOffset);
        Assert.Equal(772, sll[1].Link.HardwareType);

        var sll2 = ReadAll("scapy-sll2.pcap");
        Assert.Equal((LinkPacketType.Broadcast, 3, 20), (sll2[0].Link.PacketType, sll2[0].Link.LinkInterfaceIndex, sll2[0].Link.NetworkOffset));
        Assert.Equal(0, sll2[1].SourceAddress.Length);

        var eth = ReadAll("scapy-ether-vlan.pcap");
        Assert.Equal((42, 18, LinkPacketType.Host), (eth[0].Link.VlanId, eth[0].Link.NetworkOffset, eth[0].Link.PacketType));
        Assert.Equal(LinkPacketType.Multicast, eth[1].Link.PacketType);
        Assert.Equal((-1, Ethernet.EtherTypeArp, LinkPacketType.Broadcast), (eth[2].Link.NetworkOffset, eth[2].Link.Protocol, eth[2].Link.PacketType));
        Assert.Equal((7, 22), (eth[3].Link.VlanId, eth[3].Link.NetworkOffset)); // two tags: the outer id, both skipped
    }

    [Fact]
    public void A_record_cut_by_the_snapshot_length_keeps_its_original_length()
    {
        var r = ReadAll("scapy-be-nano-raw.pcap");
        Assert.True(r[2].IsCaptureTruncated);
        Assert.Equal((30, 34), (r[2].Data.Length, r[2].OriginalLength));
        Assert.True(PacketParser.Parse(r[2].IpPacket, out var info));
        Assert.Equal(PacketFlags.Truncated, info.Flags);
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Every_prefix_of_a_file_reads_cleanly_up_to_the_cut(string file)
    {
        var bytes = File.ReadAllBytes(TestData.Path(file));
        var full = Records(bytes, out _);
        int headerLength = bytes[0] == 0x0a ? FirstBlockLength(bytes) : 24; // the first section header / the file header
        for (int n = 0; n < bytes.Length; n++)
        {
            if (n < headerLength)
            {
                Assert.Throws<CaptureFormatException>(() => Records(bytes[..n], out _));
                continue;
            }
            var got = Records(bytes[..n], out bool truncated);
            Assert.True(got.Count <= full.Count);
            for (int i = 0; i < got.Count; i++) Assert.Equal(full[i], got[i]);
            Assert.Equal(IsCutAt(bytes, n), truncated);
        }
    }

    [Fact]
    public void Reading_a_trickling_non_seekable_stream_works()
    {
        var bytes = File.ReadAllBytes(TestData.Path("dumpcap-lo.pcapng"));
        var expected = Records(bytes, out _);
        using var reader = CaptureReader.Open(new TrickleStream(bytes));
        Assert.Equal(expected, Describe(reader));
    }

    [Fact]
    public void Records_share_one_buffer_and_reading_allocates_nothing_per_packet()
    {
        var ms = new MemoryStream();
        var packet = TestData.ScapyPacket("tcp_options");
        using (var w = new PcapWriter(ms, LinkType.Ipv4, leaveOpen: true))
            for (int i = 0; i < 2000; i++) w.Write(i * 1000L, packet);
        ms.Position = 0;
        using var reader = CaptureReader.Open(ms, leaveOpen: true);
        Assert.True(reader.TryReadNext(out var first));
        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(first.Data, out var a));
        Assert.True(reader.TryReadNext(out var second));
        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(second.Data, out var b));
        Assert.Same(a.Array, b.Array);
        long before = GC.GetAllocatedBytesForCurrentThread();
        int count = 0;
        while (reader.TryReadNext(out var rec)) count += rec.IpPacket.Length > 0 ? 1 : 0;
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(1998, count);
    }

    private static void CompareWithTshark(string file, Dictionary<string, string> row, CaptureRecord rec)
    {
        string frame = $"{file} frame {row["frame.number"]}";
        Assert.True(row["frame.time_epoch"] == "" ? rec.TimestampNanoseconds == 0 : Nanoseconds(row["frame.time_epoch"]) == rec.TimestampNanoseconds,
            $"{frame}: time {row["frame.time_epoch"]} vs {rec.TimestampNanoseconds}");
        Assert.Equal(int.Parse(row["frame.len"], CultureInfo.InvariantCulture), rec.OriginalLength);
        Assert.Equal(int.Parse(row["frame.cap_len"], CultureInfo.InvariantCulture), rec.Data.Length);
        if (row["frame.interface_id"] != "") Assert.Equal(int.Parse(row["frame.interface_id"], CultureInfo.InvariantCulture), rec.InterfaceIndex);
        // Wireshark 4.0 names a later section's interface after the first section's: skip that one.
        bool laterSection = file == "handmade-two-sections.pcapng" && rec.LinkType == LinkType.LinuxSll2;
        if (row["frame.interface_name"] is not ("" or "unknown") && !laterSection) Assert.Equal(row["frame.interface_name"], rec.InterfaceName);
        if (row["eth.src"] != "")
        {
            Assert.Equal(row["eth.src"], Mac(rec.SourceAddress));
            Assert.Equal(row["eth.dst"], Mac(rec.DestinationAddress));
        }
        Assert.Equal(row["vlan.id"] == "" ? -1 : int.Parse(row["vlan.id"], CultureInfo.InvariantCulture), rec.Link.VlanId);
        if (row["sll.pkttype"] != "") Assert.Equal(int.Parse(row["sll.pkttype"], CultureInfo.InvariantCulture), (int)rec.Link.PacketType);
        string proto = row["sll.ltype"] != "" ? row["sll.ltype"] : row["sll.etype"];
        if (proto != "") Assert.Equal(Convert.ToUInt16(proto, 16), rec.Link.Protocol);
        if (row["sll.ifindex"] != "") Assert.Equal(int.Parse(row["sll.ifindex"], CultureInfo.InvariantCulture), rec.Link.LinkInterfaceIndex);
        if (row["sll.src.eth"] != "") Assert.Equal(row["sll.src.eth"], Mac(rec.SourceAddress));
        string src = row["ip.src"] != "" ? row["ip.src"] : row["ipv6.src"];
        string dst = row["ip.dst"] != "" ? row["ip.dst"] : row["ipv6.dst"];
        if (src == "")
        {
            Assert.False(PacketParser.Parse(rec.IpPacket, out _), $"{frame}: tshark sees no IP");
            return;
        }
        Assert.True(PacketParser.Parse(rec.IpPacket, out var info), $"{frame}: no IP packet found");
        Assert.Equal(TestData.Addr(src), info.Source);
        Assert.Equal(TestData.Addr(dst), info.Destination);
    }

    internal static List<Dictionary<string, string>> TsharkRows(string path)
    {
        var lines = File.ReadAllLines(path);
        var header = lines[0].Split('\t');
        return lines.Skip(1).Where(l => l.Length > 0).Select(l =>
        {
            var cells = l.Split('\t');
            return header.Select((h, i) => (h, v: i < cells.Length ? cells[i] : "")).ToDictionary(x => x.h, x => x.v);
        }).ToList();
    }

    internal static long Nanoseconds(string epoch)
    {
        var parts = epoch.Split('.');
        return long.Parse(parts[0], CultureInfo.InvariantCulture) * 1_000_000_000 + long.Parse(parts[1].PadRight(9, '0')[..9], CultureInfo.InvariantCulture);
    }

    internal static string Mac(ReadOnlySpan<byte> mac) => string.Join(':', mac.ToArray().Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));

    private static List<CaptureRecord> ReadAll(string file)
    {
        using var reader = CaptureReader.Open(File.OpenRead(TestData.Path(file)));
        var list = new List<CaptureRecord>();
        while (reader.TryReadNext(out var rec)) list.Add(rec with { Data = rec.Data.ToArray() });
        return list;
    }

    /// <summary>Each record's bytes and timestamp as text, and whether the reader found the stream cut.</summary>
    private static List<string> Records(byte[] bytes, out bool truncated)
    {
        using var reader = CaptureReader.Open(new MemoryStream(bytes));
        var list = Describe(reader);
        truncated = reader.IsTruncated;
        return list;
    }

    private static List<string> Describe(CaptureReader reader)
    {
        var list = new List<string>();
        while (reader.TryReadNext(out var rec)) list.Add($"{rec.TimestampNanoseconds} {rec.InterfaceIndex} {Convert.ToHexString(rec.Data.Span)}");
        return list;
    }

    private static int FirstBlockLength(byte[] bytes) => (int)(bytes[8] == 0x1a
        ? System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(4)) : BitConverter.ToUInt32(bytes, 4));

    /// <summary>Walks the file's own structure to tell whether offset n falls inside a record/block.</summary>
    private static bool IsCutAt(byte[] bytes, int n)
    {
        if (bytes[0] == 0x0a)
        {
            int at = 0;
            bool big = false;
            while (at < n)
            {
                if (BitConverter.ToUInt32(bytes, at) == 0x0a0d0d0a) big = bytes[at + 8] == 0x1a;
                int len = (int)(big ? System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(at + 4)) : BitConverter.ToUInt32(bytes, at + 4));
                at += len;
            }
            return at != n;
        }
        bool be = bytes[0] == 0xa1;
        int off = 24;
        while (off < n)
        {
            int incl = (int)(be ? System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(off + 8)) : BitConverter.ToUInt32(bytes, off + 8));
            off += 16 + incl;
        }
        return off != n;
    }

    /// <summary>A forward-only stream that hands out at most 3 bytes per read.</summary>
    private sealed class TrickleStream(byte[] data) : Stream
    {
        private int _pos;
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
        public override int Read(Span<byte> buffer)
        {
            int n = Math.Min(Math.Min(3, buffer.Length), data.Length - _pos);
            data.AsSpan(_pos, n).CopyTo(buffer);
            _pos += n;
            return n;
        }
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
