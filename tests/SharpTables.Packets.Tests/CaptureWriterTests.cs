using System.Buffers.Binary;
using System.Diagnostics;
using SharpTables.Packets.Capture;
using static SharpTables.Packets.Tests.TestData;

namespace SharpTables.Packets.Tests;

public class CaptureWriterTests
{
    private const long T0 = 1700000000L * 1_000_000_000;

    [Fact]
    public void Pcap_writer_output_is_byte_identical_to_scapy_wrpcap()
    {
        // scapy-raw-ipv4.pcap: wrpcap of two IP packets (link type 228, microseconds, snaplen 65535).
        var ms = new MemoryStream();
        using (var w = new PcapWriter(ms, LinkType.Ipv4, snapLength: 65535, leaveOpen: true))
        {
            w.Write(T0 + 1000, Tcp());
            w.Write(T0 + 1_500_000_000, Udp());
        }
        Assert.Equal(Convert.ToHexString(File.ReadAllBytes(Path("scapy-raw-ipv4.pcap"))), Convert.ToHexString(ms.ToArray()));
    }

    [Fact]
    public void Big_endian_nanosecond_pcap_is_byte_identical_to_scapy()
    {
        // scapy-be-nano-raw.pcap: RawPcapWriter(linktype=101, endianness=">", nano=True).
        var ms = new MemoryStream();
        using (var w = new PcapWriter(ms, LinkType.Raw, nanosecond: true, snapLength: 65535, bigEndian: true, leaveOpen: true))
        {
            w.Write(T0 + 123456789, Tcp());
            w.Write(T0 + 1_000_000_001, Echo6());
            w.Write(T0 + 2_000_000_000, Udp().AsSpan(0, 30), originalLength: 34);
        }
        Assert.Equal(Convert.ToHexString(File.ReadAllBytes(Path("scapy-be-nano-raw.pcap"))), Convert.ToHexString(ms.ToArray()));
    }

    [Theory]
    [InlineData(LinkType.Raw, false, false)]
    [InlineData(LinkType.Ipv4, true, false)]
    [InlineData(LinkType.Ethernet, false, true)]
    [InlineData(LinkType.Ethernet, true, true)]
    public void Pcap_round_trip(LinkType linkType, bool nanosecond, bool bigEndian)
    {
        var frames = Frames(linkType);
        var ms = new MemoryStream();
        using (var w = new PcapWriter(ms, linkType, nanosecond, snapLength: 50, bigEndian: bigEndian, leaveOpen: true))
            for (int i = 0; i < frames.Length; i++) w.Write(T0 + i * 1_234_567L, frames[i]);
        ms.Position = 0;
        using var reader = CaptureReader.Open(ms);
        var r = Assert.IsType<PcapReader>(reader);
        Assert.Equal((nanosecond, bigEndian, linkType), (r.IsNanosecond, r.IsBigEndian, r.LinkType));
        for (int i = 0; i < frames.Length; i++)
        {
            Assert.True(reader.TryReadNext(out var rec));
            long ts = T0 + i * 1_234_567L;
            Assert.Equal(nanosecond ? ts : ts / 1000 * 1000, rec.TimestampNanoseconds);
            Assert.Equal(frames[i].AsSpan(0, Math.Min(50, frames[i].Length)).ToArray(), rec.Data.ToArray());
            Assert.Equal(frames[i].Length, rec.OriginalLength);
            Assert.True(PacketParser.Parse(rec.IpPacket, out var info));
            Assert.True(PacketParser.Parse(frames[i].AsSpan(rec.Link.NetworkOffset), out var sent));
            Assert.Equal(sent.Source, info.Source);
        }
        Assert.False(reader.TryReadNext(out _));
        Assert.False(reader.IsTruncated);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Pcapng_round_trip_with_several_interfaces(bool bigEndian)
    {
        var ms = new MemoryStream();
        using (var w = new PcapngWriter(ms, bigEndian, leaveOpen: true))
        {
            Assert.Equal(0, w.AddInterface(LinkType.Ethernet, "eth0"));
            Assert.Equal(1, w.AddInterface(LinkType.Ipv4, null, timestampResolution: 6));
            Assert.Equal(2, w.AddInterface(LinkType.Raw, "tun0", snapLength: 30, timestampResolution: 3));
            w.WritePacket(0, T0 + 1, Frames(LinkType.Ethernet)[0]);
            w.WritePacket(1, T0 + 2_000_999, Tcp());
            w.WritePacket(2, T0 + 3_456_789_123, Echo6());
            w.WriteSimplePacket(Frames(LinkType.Ethernet)[1]);
        }
        ms.Position = 0;
        using var reader = CaptureReader.Open(ms);
        Assert.Equal(bigEndian, Assert.IsType<PcapngReader>(reader).IsBigEndian);
        var got = new List<(int, LinkType, string?, long, int, int)>();
        while (reader.TryReadNext(out var rec)) got.Add((rec.InterfaceIndex, rec.LinkType, rec.InterfaceName, rec.TimestampNanoseconds, rec.Data.Length, rec.OriginalLength));
        Assert.Equal(
        [
            (0, LinkType.Ethernet, "eth0", T0 + 1, 54, 54),
            (1, LinkType.Ipv4, null, T0 + 2_000_000, 40, 40),          // microseconds
            (2, LinkType.Raw, "tun0", T0 + 3_456_000_000, 30, 48),     // milliseconds, cut to the snap length
            (0, LinkType.Ethernet, "eth0", 0, 48, 48),
        ], got);
        Assert.False(reader.IsTruncated);
    }

    /// <summary>Files we write are read by tshark (Wireshark's wiretap) and tcpdump (libpcap) when they are installed.</summary>
    [Fact]
    public void Other_tools_read_our_files()
    {
        const string tshark = "/usr/bin/tshark", tcpdump = "/usr/bin/tcpdump";
        if (!File.Exists(tshark) && !File.Exists(tcpdump)) return; // nothing to check against on this machine
        string dir = Directory.CreateTempSubdirectory("sharptables-pcap").FullName;
        try
        {
            string pcap = System.IO.Path.Combine(dir, "ours.pcap"), pcapng = System.IO.Path.Combine(dir, "ours.pcapng");
            string sameLinkType = System.IO.Path.Combine(dir, "ours-eth.pcapng");
            using (var w = new PcapWriter(File.Create(pcap), LinkType.Ethernet, nanosecond: true, bigEndian: true))
                foreach (var f in Frames(LinkType.Ethernet)) w.Write(T0 + 5, f);
            using (var w = new PcapngWriter(File.Create(pcapng), bigEndian: true))
            {
                w.AddInterface(LinkType.Ethernet, "eth0");
                w.AddInterface(LinkType.Ipv6, "v6");
                w.WritePacket(0, T0 + 7, Frames(LinkType.Ethernet)[0]);
                w.WritePacket(1, T0 + 8, Echo6());
            }
            // libpcap reads pcapng only when all interfaces share one link type.
            using (var w = new PcapngWriter(File.Create(sameLinkType)))
            {
                w.AddInterface(LinkType.Ethernet, "eth0");
                w.AddInterface(LinkType.Ethernet, "eth1", timestampResolution: 6);
                w.WritePacket(0, T0 + 7, Frames(LinkType.Ethernet)[0]);
                w.WritePacket(1, T0 + 8000, Ethernet.Frame([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], Echo6()));
            }
            if (File.Exists(tshark))
            {
                var rows = Tshark(tshark, pcap);
                Assert.Equal(["1700000000.000000005 198.51.100.2 198.51.100.1  02:00:00:00:00:0a", "1700000000.000000005 198.51.100.1 198.51.100.2  02:00:00:00:00:0b"], rows);
                rows = Tshark(tshark, pcapng);
                Assert.Equal(["1700000000.000000007 198.51.100.2 198.51.100.1  02:00:00:00:00:0a", "1700000000.000000008   2001:db8:100::2 "], rows);
            }
            if (File.Exists(tcpdump))
            {
                Assert.Equal(2, Run(tcpdump, "-nn", "-r", pcap).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
                string text = Run(tcpdump, "-nn", "-tt", "-r", sameLinkType);
                Assert.Contains("1700000000.000000 IP 198.51.100.2.40001 > 198.51.100.1.22: Flags [S]", text, StringComparison.Ordinal);
                Assert.Contains("1700000000.000008 IP6 2001:db8:100::2 > 2001:db8:100::1: ICMP6, echo request", text, StringComparison.Ordinal);
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static List<string> Tshark(string tshark, string file) =>
        Run(tshark, "-n", "-r", file, "-T", "fields", "-E", "separator= ", "-E", "occurrence=f",
                "-e", "frame.time_epoch", "-e", "ip.src", "-e", "ip.dst", "-e", "ipv6.src", "-e", "eth.src")
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();

    private static string Run(string exe, params string[] args)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        string error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{exe} failed: {error}");
        return output;
    }

    /// <summary>make_captures.py's v4: IP(src=C, dst=S, id=0xB001)/TCP(sport=40001, dport=22, flags="S", seq=1000).</summary>
    private static byte[] Tcp()
    {
        var b = V4(0xB001);
        b.Protocol = IpProtocol.Tcp;
        b.SourcePort = 40001;
        b.DestinationPort = 22;
        b.TcpFlags = TcpFlagBits.Syn;
        b.Sequence = 1000;
        return b.ToArray();
    }
    private static byte[] Udp()
    {
        var b = new PacketBuilder { Source = Addr(S), Destination = Addr(C), Id = 2, Protocol = IpProtocol.Udp, SourcePort = 53, DestinationPort = 40002 };
        b.Payload = "answer"u8;
        return b.ToArray();
    }

    private static byte[] Echo6()
    {
        var b = V6();
        b.Protocol = IpProtocol.Icmpv6;
        b.IcmpType = Icmpv6Type.EchoRequest;
        b.IcmpId = 1;
        b.IcmpSequence = 1;
        return b.ToArray();
    }

    private static byte[][] Frames(LinkType linkType)
    {
        byte[] a = [2, 0, 0, 0, 0, 0x0a], b = [2, 0, 0, 0, 0, 0x0b];
        return linkType == LinkType.Ethernet ? [Ethernet.Frame(b, a, Tcp()), Ethernet.Frame(a, b, Udp())] : [Tcp(), Tcp()];
    }
}
