using System.Text.Json;
using SharpTables.Packets;
using SharpTables.Rules.Extensions;

namespace SharpTables.Simulation;

/// <summary>Builds the packet of a scenario line the way the oracle's scapy code does (same defaults).</summary>
internal static class ScenarioPackets
{
    public static bool IsV6(ScenarioItem it) =>
        (it.Str("src")?.Contains(':') ?? false) || (it.Str("dst")?.Contains(':') ?? false) || it.Bool("ipv6");

    public static byte ProtoNumber(string? p, int line)
    {
        if (p == null) return IpProtocol.Tcp;
        var s = p.ToLowerInvariant();
        if (byte.TryParse(s, out var n)) return n;
        return s switch
        {
            "tcp" => 6, "udp" => 17, "icmp" => 1, "icmpv6" or "ipv6-icmp" => 58, "gre" => 47, "esp" => 50, "ah" => 51,
            "sctp" => 132, "udplite" => 136, "igmp" => 2,
            _ => NetDb.ProtocolNumber(s) is int v ? (byte)v : throw new ScenarioException($"line {line}: unknown protocol \"{p}\""),
        };
    }

    public static byte TcpFlags(JsonElement json, int line)
    {
        if (!json.TryGetProperty("flags", out var v) || v.ValueKind == JsonValueKind.Null) return TcpFlagBits.Syn;
        if (v.ValueKind == JsonValueKind.Number) return (byte)v.GetInt32();
        var s = (v.GetString() ?? "").Trim().ToUpperInvariant();
        if (s is "" or "NONE") return 0;
        if (s == "ALL") return 0x3f;
        const string letters = "FSRPAUEC";
        byte f = 0;
        if (s.Contains(',') || s.Length > 1 && s.All(char.IsLetter) && Names.ContainsKey(s))
        {
            foreach (var part in s.Split(','))
                f |= Names.TryGetValue(part.Trim(), out var b) ? b : throw new ScenarioException($"line {line}: unknown TCP flag \"{part}\"");
            return f;
        }
        foreach (char c in s)
        {
            if (c == 'N') continue; // the NS bit lives outside the flags byte
            int i = letters.IndexOf(c);
            if (i < 0) throw new ScenarioException($"line {line}: bad TCP flag letter '{c}' in \"{s}\" (use FSRPAUEC or SYN,ACK)");
            f |= (byte)(1 << i);
        }
        return f;
    }

    private static readonly Dictionary<string, byte> Names = new()
    {
        ["FIN"] = 0x01, ["SYN"] = 0x02, ["RST"] = 0x04, ["PSH"] = 0x08, ["ACK"] = 0x10, ["URG"] = 0x20, ["ECE"] = 0x40, ["CWR"] = 0x80, ["NS"] = 0,
    };

    /// <summary>build_l3: the IP packet for a line, with the marker as IPv4 ID / IPv6 flow label; <paramref name="sportDefault"/> is the source port when the line names none (oracle-run uses 40000+n).</summary>
    public static byte[] Build(ScenarioItem it, JsonElement json, UInt128 defSrc, UInt128 defDst, bool v6, ushort marker, uint? seqDefault, bool quote, int line, ushort sportDefault = 40000)
    {
        UInt128 src = json.TryGetProperty("src", out var s) ? Topology.Parse(s.GetString()!) : defSrc;
        UInt128 dst = json.TryGetProperty("dst", out var d) ? Topology.Parse(d.GetString()!) : defDst;
        v6 = v6 || (json.TryGetProperty("src", out s) && s.GetString()!.Contains(':')) || (json.TryGetProperty("dst", out d) && d.GetString()!.Contains(':'));
        byte proto = ProtoNumber(json.TryGetProperty("proto", out var pr) ? (pr.ValueKind == JsonValueKind.Number ? pr.GetRawText() : pr.GetString()) : null, line);
        if (v6 && proto == 1) proto = 58;
        var spec = new WireSpec
        {
            Version = (byte)(v6 ? 6 : 4), Src = src, Dst = dst, Proto = proto,
            Ttl = (byte)Int(json, "ttl", 64), Tos = (byte)Int(json, "tos", 0),
        };
        if (v6) spec.FlowLabel = marker; else spec.Id = marker;
        if (!v6)
        {
            var flags = (Str(json, "ip_flags") ?? "").ToUpperInvariant().Replace('+', ',').Replace('|', ',');
            foreach (var f in flags.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                spec.IpFlags |= f switch { "DF" => (byte)2, "MF" => (byte)1, "EVIL" or "RF" => (byte)4, _ => (byte)0 };
            spec.FragOffset = (ushort)Int(json, "frag", 0);
        }
        byte[] payload = [];
        if (json.TryGetProperty("payload", out var pl)) payload = System.Text.Encoding.UTF8.GetBytes(pl.ValueKind == JsonValueKind.String ? pl.GetString()! : pl.GetRawText());
        else if (Str(json, "payload_hex") is string hex) payload = Convert.FromHexString(hex.Replace(" ", ""));
        else if (json.TryGetProperty("payload_len", out _)) payload = new byte[Int(json, "payload_len", 0)];
        switch (proto)
        {
            case IpProtocol.Tcp:
                spec.TcpFlags = TcpFlags(json, line);
                spec.SrcPort = (ushort)Int(json, "sport", sportDefault);
                spec.DstPort = (ushort)Int(json, "dport", 80);
                spec.Seq = (uint)Long(json, "seq", seqDefault ?? 1000);
                spec.Ack = (uint)Long(json, "ack", (spec.TcpFlags & TcpFlagBits.Ack) != 0 ? 1 : 0);
                spec.Window = (ushort)Int(json, "window", 64240);
                spec.UrgPtr = (ushort)Int(json, "urgptr", 0);
                if (json.TryGetProperty("tcp_options", out var opts)) spec.TcpOptions = TcpOptions(opts, line);
                break;
            case IpProtocol.Udp:
                spec.SrcPort = (ushort)Int(json, "sport", sportDefault);
                spec.DstPort = (ushort)Int(json, "dport", 53);
                break;
            case IpProtocol.Icmp:
                spec.IcmpType = (byte)Int(json, "icmp_type", 8);
                spec.IcmpCode = (byte)Int(json, "icmp_code", 0);
                if (spec.IcmpType is 0 or 8 or 13 or 14 or 15 or 16)
                {
                    spec.IcmpId = (ushort)Int(json, "icmp_id", 0x4f52);
                    spec.IcmpSeq = (ushort)Int(json, "icmp_seq", 1);
                }
                // scapy's ICMP layer is longer for these types: timestamp request/reply carry three
                // 32-bit timestamps (scapy fills in the time of day; the value matters to nobody
                // here), address mask request/reply a 32-bit mask.
                if (spec.IcmpType is 13 or 14) payload = [.. new byte[12], .. payload];
                else if (spec.IcmpType is 17 or 18) payload = [.. new byte[4], .. payload];
                break;
            case IpProtocol.Icmpv6:
                spec.IcmpType = (byte)Int(json, "icmp_type", 128);
                spec.IcmpCode = spec.IcmpType == 128 ? (byte)0 : (byte)Int(json, "icmp_code", 0);
                if (spec.IcmpType == 128)
                {
                    spec.IcmpId = (ushort)Int(json, "icmp_id", 0x4f52);
                    spec.IcmpSeq = (ushort)Int(json, "icmp_seq", 1);
                }
                break;
        }
        if (json.TryGetProperty("quote", out var q) && q.ValueKind == JsonValueKind.Object)
        {
            // The embedded original: its addresses default to the reverse of the outer packet's.
            var inner = Build(it, q, dst, src, v6, (ushort)Int(q, "ip_id", 1), null, quote: true, line);
            int hl = v6 ? 40 : (inner[0] & 0x0f) * 4;
            payload = [.. inner.AsSpan(0, Math.Min(inner.Length, hl + 8)), .. payload];
        }
        spec.Payload = payload;
        var built = Wire.Build(spec);
        if (!quote && json.TryGetProperty("len", out _))
        {
            int want = Int(json, "len", 0);
            if (want < built.Length) throw new ScenarioException($"line {line}: len {want} is smaller than the headers ({built.Length})");
            if (want > built.Length)
            {
                // scapy appends Raw(zeros) to the last layer: the padding is transport payload.
                spec.Payload = [.. payload, .. new byte[want - built.Length]];
                built = Wire.Build(spec);
            }
        }
        return built;
    }

    private static byte[] TcpOptions(JsonElement opts, int line)
    {
        var o = new List<byte>();
        foreach (var e in opts.EnumerateArray())
        {
            string name = e.ValueKind == JsonValueKind.Array ? e[0].GetString()! : e.GetString()!;
            JsonElement val = e.ValueKind == JsonValueKind.Array && e.GetArrayLength() > 1 ? e[1] : default;
            switch (name)
            {
                case "EOL": o.Add(0); break;
                case "NOP": o.Add(1); break;
                case "MSS": o.AddRange([2, 4, (byte)(val.GetInt32() >> 8), (byte)val.GetInt32()]); break;
                case "WScale": o.AddRange([3, 3, (byte)val.GetInt32()]); break;
                case "SAckOK": o.AddRange([4, 2]); break;
                case "Timestamp":
                {
                    uint a = val[0].GetUInt32(), b = val[1].GetUInt32();
                    o.AddRange([8, 10, (byte)(a >> 24), (byte)(a >> 16), (byte)(a >> 8), (byte)a, (byte)(b >> 24), (byte)(b >> 16), (byte)(b >> 8), (byte)b]);
                    break;
                }
                default: throw new ScenarioException($"line {line}: unsupported TCP option \"{name}\"");
            }
        }
        while (o.Count % 4 != 0) o.Add(0);
        return o.ToArray();
    }

    private static string? Str(JsonElement j, string k) => j.TryGetProperty(k, out var v) ? (v.ValueKind == JsonValueKind.String ? v.GetString() : v.GetRawText()) : null;

    public static int Int(JsonElement j, string k, int fallback) => (int)Long(j, k, fallback);

    public static long Long(JsonElement j, string k, long fallback)
    {
        if (!j.TryGetProperty(k, out var v) || v.ValueKind == JsonValueKind.Null) return fallback;
        if (v.ValueKind == JsonValueKind.Number) return (long)v.GetDouble();
        if (v.ValueKind == JsonValueKind.String && long.TryParse(v.GetString(), out var n)) return n;
        throw new ScenarioException($"\"{k}\" must be a number");
    }
}
