using System.Text.Json;
using System.Text.Json.Nodes;

namespace SharpTables.DiffTest.Comparison;

/// <summary>
/// What differs between two kernel runs of the same batch by design: oracle-run's random MAC addresses and
/// the ports the kernel picked for real connections. Maps one run's values onto another's, so a rerun can
/// be compared with a recording (<c>difftest stability</c>).
/// </summary>
internal static class RunMapping
{
    /// <summary><paramref name="text"/> (the JSON of <paramref name="from"/>) with <paramref name="from"/>'s MACs and connection ports replaced by <paramref name="to"/>'s.</summary>
    public static string MapTo(string text, JsonObject from, JsonElement to)
    {
        if (from["topology"]?["interfaces"] is JsonObject fi && to.TryGetProperty("topology", out var tt) && tt.TryGetProperty("interfaces", out var ti))
            foreach (var (name, node) in fi)
            {
                string? a = node?["mac"]?.GetValue<string>();
                if (a != null && ti.TryGetProperty(name, out var other) && other.GetProperty("mac").GetString() is { } b)
                    text = text.Replace(a, b, StringComparison.Ordinal);
            }
        if (from["lines"] is JsonArray fl && to.TryGetProperty("lines", out var tl))
        {
            var stored = new Dictionary<long, string>();
            foreach (var l in tl.EnumerateArray())
                if (l.TryGetProperty("connect", out var c) && c.TryGetProperty("local", out var local))
                    stored[l.GetProperty("line").GetInt64()] = local.GetString()!;
            foreach (var l in fl)
                if (l?["connect"]?["local"]?.GetValue<string>() is { } mine && stored.TryGetValue((long)l["line"]!, out var theirs))
                {
                    string p1 = mine[(mine.LastIndexOf(':') + 1)..], p2 = theirs[(theirs.LastIndexOf(':') + 1)..];
                    text = text.Replace($"\"{mine}\"", $"\"{theirs}\"", StringComparison.Ordinal)
                        .Replace($"SPT={p1} ", $"SPT={p2} ", StringComparison.Ordinal)
                        .Replace($"DPT={p1} ", $"DPT={p2} ", StringComparison.Ordinal);
                }
        }
        return text;
    }
}
