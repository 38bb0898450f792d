using System.Globalization;
using System.IO.Compression;
using System.Text;

namespace SharpTables.Simulation;

/// <summary>One ClassBench header: the 5-tuple and the rule expected to match it first (0-based).</summary>
public readonly record struct ClassBenchHeader(uint Src, uint Dst, ushort SrcPort, ushort DstPort, byte Proto, int FirstMatch);

/// <summary>
/// Reads the ClassBench sets of shared/bench/classbench (read in place, never copied: research
/// licence). Rules become an iptables-restore file in the raw table's PREROUTING chain, each
/// ClassBench rule at its own position, as the data's kernel check did; headers carry their
/// first match (GEN_RULE unless the firstmatch file says otherwise).
/// </summary>
public static class ClassBench
{
    /// <summary>shared/bench/classbench/data next to the repository (or $SHARPTABLES_SHARED), or null when absent.</summary>
    public static string? DataDirectory(string repoRoot)
    {
        var shared = Environment.GetEnvironmentVariable("SHARPTABLES_SHARED") ?? Path.Combine(repoRoot, "..", "shared");
        var dir = Path.Combine(shared, "bench", "classbench", "data");
        return Directory.Exists(dir) ? Path.GetFullPath(dir) : null;
    }

    public static readonly string[] Sets =
        ["acl1_1K", "fw1_1K", "ipc1_1K", "acl1_10K", "fw1_10K", "ipc1_10K", "acl1_100K", "fw1_100K", "ipc1_100K"];

    /// <summary>The rule set as iptables-restore input: raw PREROUTING, policy ACCEPT, even rules ACCEPT and odd rules DROP.</summary>
    public static string RulesAsRestore(string dataDir, string set, string table = "raw", string chain = "PREROUTING")
    {
        var sb = new StringBuilder();
        sb.Append('*').Append(table).Append('\n');
        sb.Append(":PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n");
        int index = 0;
        foreach (var line in Lines(Path.Combine(dataDir, set + ".rules.gz")))
        {
            if (line.Length == 0) continue;
            var f = line.TrimStart('@').Split('\t');
            sb.Append("-A ").Append(chain);
            AppendPrefix(sb, "-s", f[0]);
            AppendPrefix(sb, "-d", f[1]);
            var (protoValue, protoMask) = HexPair(f[4]);
            var (spLo, spHi) = Range(f[2]);
            var (dpLo, dpHi) = Range(f[3]);
            bool ports = spLo != 0 || spHi != 65535 || dpLo != 0 || dpHi != 65535;
            if (protoMask == 0xff)
            {
                string name = protoValue switch { 6 => "tcp", 17 => "udp", 1 => "icmp", _ => protoValue.ToString(CultureInfo.InvariantCulture) };
                sb.Append(" -p ").Append(name);
                if (ports)
                {
                    if (protoValue is not (6 or 17)) throw new InvalidDataException($"{set}: rule {index} has ports with protocol {protoValue}");
                    sb.Append(" -m ").Append(name);
                    if (spLo != 0 || spHi != 65535) sb.Append(" --sport ").Append(PortText(spLo, spHi));
                    if (dpLo != 0 || dpHi != 65535) sb.Append(" --dport ").Append(PortText(dpLo, dpHi));
                }
            }
            else if (ports) throw new InvalidDataException($"{set}: rule {index} has ports with a wildcard protocol");
            sb.Append(index % 2 == 0 ? " -j ACCEPT\n" : " -j DROP\n");
            index++;
        }
        sb.Append("COMMIT\n");
        return sb.ToString();
    }

    /// <summary>Streams the headers with their expected first match.</summary>
    public static IEnumerable<ClassBenchHeader> Headers(string dataDir, string set, int limit = int.MaxValue)
    {
        var exceptions = new Dictionary<int, int>();
        foreach (var line in Lines(Path.Combine(dataDir, set + ".firstmatch.gz")))
        {
            var f = line.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (f.Length >= 2) exceptions[int.Parse(f[0], CultureInfo.InvariantCulture)] = int.Parse(f[1], CultureInfo.InvariantCulture);
        }
        int n = 0;
        foreach (var line in Lines(Path.Combine(dataDir, set + ".trace.gz")))
        {
            if (n >= limit) yield break;
            var f = line.Split('\t', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 7) continue;
            int gen = int.Parse(f[6], CultureInfo.InvariantCulture);
            yield return new ClassBenchHeader(
                uint.Parse(f[0], CultureInfo.InvariantCulture), uint.Parse(f[1], CultureInfo.InvariantCulture),
                ushort.Parse(f[2], CultureInfo.InvariantCulture), ushort.Parse(f[3], CultureInfo.InvariantCulture),
                byte.Parse(f[4], CultureInfo.InvariantCulture), exceptions.GetValueOrDefault(n, gen));
            n++;
        }
    }

    /// <summary>An IPv4 packet for a header: TCP or UDP with its ports, other protocols with the ports as the first payload bytes.</summary>
    public static byte[] Packet(in ClassBenchHeader h)
    {
        var spec = new WireSpec
        {
            Src = h.Src, Dst = h.Dst, Proto = h.Proto, SrcPort = h.SrcPort, DstPort = h.DstPort, TcpFlags = 0x10, Id = 1,
        };
        if (h.Proto is not (6 or 17 or 1))
            spec.Payload = [(byte)(h.SrcPort >> 8), (byte)h.SrcPort, (byte)(h.DstPort >> 8), (byte)h.DstPort, 0, 0, 0, 0];
        return Wire.Build(spec);
    }

    private static void AppendPrefix(StringBuilder sb, string opt, string field)
    {
        var parts = field.Split('/');
        int len = int.Parse(parts[1], CultureInfo.InvariantCulture);
        if (len == 0) return;
        var a = SharpTables.Packets.Ipv4.TryParse(parts[0], out uint addr) ? addr : throw new InvalidDataException($"bad address {parts[0]}");
        uint mask = len == 32 ? uint.MaxValue : ~(uint.MaxValue >> len);
        sb.Append(' ').Append(opt).Append(' ').Append(SharpTables.Packets.Ipv4.Format(a & mask)).Append('/').Append(len);
    }

    private static (int Value, int Mask) HexPair(string s)
    {
        var p = s.Split('/');
        return (Convert.ToInt32(p[0], 16), Convert.ToInt32(p[1], 16));
    }

    private static (int Lo, int Hi) Range(string s)
    {
        var p = s.Split(':');
        return (int.Parse(p[0].Trim(), CultureInfo.InvariantCulture), int.Parse(p[1].Trim(), CultureInfo.InvariantCulture));
    }

    private static string PortText(int lo, int hi) => lo == hi ? lo.ToString(CultureInfo.InvariantCulture) : $"{lo}:{hi}";

    private static IEnumerable<string> Lines(string gz)
    {
        using var f = File.OpenRead(gz);
        using var z = new GZipStream(f, CompressionMode.Decompress);
        using var r = new StreamReader(z);
        while (r.ReadLine() is string line) yield return line;
    }
}
