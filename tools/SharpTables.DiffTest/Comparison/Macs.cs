using System.Text.Json;
using System.Text.Json.Nodes;

namespace SharpTables.DiffTest.Comparison;

/// <summary>oracle-run picks random MAC addresses per run (they appear in LOG lines); this maps one run's onto another's.</summary>
internal static class Macs
{
    /// <summary><paramref name="text"/> (the JSON of <paramref name="from"/>) with <paramref name="from"/>'s MACs replaced by <paramref name="to"/>'s.</summary>
    public static string MapTo(string text, JsonObject from, JsonElement to)
    {
        if (from["topology"]?["interfaces"] is not JsonObject fi) return text;
        if (!to.TryGetProperty("topology", out var tt) || !tt.TryGetProperty("interfaces", out var ti)) return text;
        foreach (var (name, node) in fi)
        {
            string? a = node?["mac"]?.GetValue<string>();
            if (a != null && ti.TryGetProperty(name, out var other) && other.GetProperty("mac").GetString() is { } b)
                text = text.Replace(a, b, StringComparison.Ordinal);
        }
        return text;
    }
}
