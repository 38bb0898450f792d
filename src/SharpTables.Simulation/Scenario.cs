using System.Text.Json;

namespace SharpTables.Simulation;

/// <summary>
/// One line of an oracle scenario (JSON lines; see shared/oracle/README.md): a crafted packet,
/// a sleep, a listener, or a real TCP connection. Unknown keys are refused as the oracle does.
/// </summary>
public sealed class ScenarioItem
{
    public required int Line { get; init; }
    public required string Type { get; init; }
    public required JsonElement Json { get; init; }

    public string Dir => Str("dir") ?? "in";
    public string? Label => Str("label");

    public string? Str(string key) => Json.TryGetProperty(key, out var v)
        ? v.ValueKind switch { JsonValueKind.String => v.GetString(), JsonValueKind.Null => null, _ => v.GetRawText() }
        : null;

    public bool Has(string key) => Json.TryGetProperty(key, out _);

    public double Num(string key, double fallback)
    {
        if (!Json.TryGetProperty(key, out var v)) return fallback;
        return v.ValueKind switch
        {
            JsonValueKind.Number => v.GetDouble(),
            JsonValueKind.String when double.TryParse(v.GetString(), System.Globalization.CultureInfo.InvariantCulture, out var d) => d,
            _ => throw new ScenarioException($"line {Line}: \"{key}\" must be a number"),
        };
    }

    public bool Bool(string key) => Json.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.True;
}

/// <summary>A scenario file that cannot be run, with the line that is wrong.</summary>
public sealed class ScenarioException(string message) : Exception(message);

public static class Scenario
{
    private static readonly HashSet<string> PacketKeys =
    [
        "type", "dir", "label", "src", "dst", "ipv6", "proto", "sport", "dport", "flags", "seq", "ack", "window", "urgptr",
        "tcp_options", "icmp_type", "icmp_code", "icmp_id", "icmp_seq", "quote", "ttl", "tos", "ip_flags", "frag", "ip_id",
        "len", "payload", "payload_hex", "payload_len", "iface", "delay_ms", "count", "interval_ms", "expect", "settle_ms", "snapshot",
    ];
    private static readonly HashSet<string> ConnectKeys =
        ["type", "dir", "label", "src", "dst", "ipv6", "sport", "dport", "data", "timeout_ms", "delay_ms", "expect", "settle_ms", "snapshot", "from", "to"];
    private static readonly HashSet<string> ListenKeys = ["type", "ns", "proto", "port", "ipv6", "label"];
    private static readonly string[] Dirs = ["in", "out", "fwd", "fwd-rev", "local"];

    /// <summary>Parses scenario text; blank lines and lines starting with # or // are skipped.</summary>
    public static List<ScenarioItem> Parse(string text, string name = "scenario")
    {
        var items = new List<ScenarioItem>();
        int lineNo = 0;
        foreach (var raw in text.Split('\n'))
        {
            lineNo++;
            var s = raw.Trim();
            if (s.Length == 0 || s.StartsWith('#') || s.StartsWith("//")) continue;
            JsonElement obj;
            try { obj = JsonDocument.Parse(s).RootElement; }
            catch (JsonException e) { throw new ScenarioException($"{name}:{lineNo}: invalid JSON: {e.Message}"); }
            if (obj.ValueKind != JsonValueKind.Object) throw new ScenarioException($"{name}:{lineNo}: each line must be a JSON object");
            string type = obj.TryGetProperty("type", out var t) ? t.GetString() ?? "packet"
                : obj.TryGetProperty("sleep_ms", out _) ? "sleep" : "packet";
            var allowed = type switch
            {
                "packet" => PacketKeys,
                "tcp_connect" => ConnectKeys,
                "listen" => ListenKeys,
                "sleep" => ["type", "sleep_ms", "ms"],
                _ => throw new ScenarioException($"{name}:{lineNo}: unknown type \"{type}\""),
            };
            foreach (var p in obj.EnumerateObject())
                if (!allowed.Contains(p.Name))
                    throw new ScenarioException($"{name}:{lineNo}: unknown key \"{p.Name}\" for a {type} line");
            var item = new ScenarioItem { Line = lineNo, Type = type, Json = obj };
            if (type is "packet" or "tcp_connect" && !Dirs.Contains(item.Dir))
                throw new ScenarioException($"{name}:{lineNo}: dir must be one of {string.Join(", ", Dirs)}");
            if (type == "listen")
            {
                if (item.Str("ns") is string ns && ns is not ("fw" or "client" or "backend"))
                    throw new ScenarioException($"{name}:{lineNo}: listen ns must be fw, client or backend");
                if (item.Str("proto") is string pr && pr is not ("tcp" or "udp"))
                    throw new ScenarioException($"{name}:{lineNo}: listen proto must be tcp or udp");
                if (!item.Has("port")) throw new ScenarioException($"{name}:{lineNo}: listen needs a port");
            }
            items.Add(item);
        }
        return items;
    }
}
