using System.Text.Json;

namespace SharpTables.Simulation;

/// <summary>
/// Compares a simulation result with an oracle-run result of the same rules and scenario:
/// every rule and policy counter of every table, every packet's verdict, the LOG lines, and the
/// recent lists (address, TTL and number of timestamps; absolute jiffies differ by boot time).
/// </summary>
public static class OracleCompare
{
    public static List<string> Compare(JsonElement oracle, JsonElement ours)
    {
        var m = new List<string>();
        CompareTables(oracle, ours, m);
        CompareVerdicts(oracle, ours, m);
        CompareLog(oracle, ours, m);
        CompareRecent(oracle, ours, m);
        return m;
    }

    private static void CompareTables(JsonElement oracle, JsonElement ours, List<string> m)
    {
        if (!oracle.TryGetProperty("tables", out var ot)) return;
        ours.TryGetProperty("tables", out var ut);
        foreach (var fam in ot.EnumerateObject())
            foreach (var table in fam.Value.EnumerateObject())
                foreach (var chain in table.Value.GetProperty("chains").EnumerateObject())
                {
                    string where = $"{fam.Name} {table.Name} {chain.Name}";
                    JsonElement uc = default;
                    bool have = ut.ValueKind == JsonValueKind.Object && ut.TryGetProperty(fam.Name, out var uf)
                        && uf.TryGetProperty(table.Name, out var utab) && utab.GetProperty("chains").TryGetProperty(chain.Name, out uc);
                    if (!have) { m.Add($"{where}: chain missing in simulation"); continue; }
                    if (chain.Value.TryGetProperty("policy_packets", out var pp))
                    {
                        var (op, ob) = (pp.GetUInt64(), chain.Value.GetProperty("policy_bytes").GetUInt64());
                        var (sp, sb) = (uc.GetProperty("policy_packets").GetUInt64(), uc.GetProperty("policy_bytes").GetUInt64());
                        if (op != sp || ob != sb) m.Add($"{where} policy: kernel [{op}:{ob}], engine [{sp}:{sb}]");
                    }
                    var orules = chain.Value.GetProperty("rules").EnumerateArray().ToList();
                    var urules = uc.GetProperty("rules").EnumerateArray().ToList();
                    if (orules.Count != urules.Count) { m.Add($"{where}: kernel has {orules.Count} rules, engine {urules.Count}"); continue; }
                    for (int i = 0; i < orules.Count; i++)
                    {
                        var o = orules[i];
                        var u = urules[i];
                        string text = o.GetProperty("rule").GetString()!;
                        if (text != u.GetProperty("rule").GetString()) m.Add($"{where} #{i + 1}: rule text differs: kernel `{text}`, engine `{u.GetProperty("rule").GetString()}`");
                        var (op, ob) = (o.GetProperty("packets").GetUInt64(), o.GetProperty("bytes").GetUInt64());
                        var (sp, sb) = (u.GetProperty("packets").GetUInt64(), u.GetProperty("bytes").GetUInt64());
                        if (op != sp || ob != sb) m.Add($"{where} #{i + 1} `{text}`: kernel [{op}:{ob}], engine [{sp}:{sb}]");
                    }
                }
    }

    private static void CompareVerdicts(JsonElement oracle, JsonElement ours, List<string> m)
    {
        var mine = new Dictionary<int, string>();
        foreach (var l in ours.GetProperty("lines").EnumerateArray())
            if (l.TryGetProperty("packets", out var ps) && ps.ValueKind == JsonValueKind.Array)
                foreach (var p in ps.EnumerateArray()) mine[p.GetProperty("n").GetInt32()] = p.GetProperty("verdict").GetString()!;
        var connects = ours.GetProperty("lines").EnumerateArray()
            .Where(l => l.TryGetProperty("connect", out var c) && c.ValueKind == JsonValueKind.Object)
            .ToDictionary(l => l.GetProperty("line").GetInt32(), l => Outcome(l.GetProperty("connect")));
        foreach (var l in oracle.GetProperty("lines").EnumerateArray())
        {
            if (l.TryGetProperty("packets", out var ps) && ps.ValueKind == JsonValueKind.Array)
                foreach (var p in ps.EnumerateArray())
                {
                    int n = p.GetProperty("n").GetInt32();
                    string v = p.GetProperty("verdict").GetString()!;
                    if (!mine.TryGetValue(n, out var u)) m.Add($"packet {n}: missing in simulation");
                    else if (u != v) m.Add($"packet {n} ({p.GetProperty("summary").GetString()}, line {l.GetProperty("line")}): kernel {v}, engine {u}");
                }
            if (l.TryGetProperty("connect", out var c) && c.ValueKind == JsonValueKind.Object)
            {
                int line = l.GetProperty("line").GetInt32();
                string r = Outcome(c);
                if (!connects.TryGetValue(line, out var u) || u != r) m.Add($"tcp_connect line {line}: kernel {r}, engine {u ?? "missing"}");
            }
        }
    }

    /// <summary>A tcp_connect's result, with the errno of an "error" (e.g. <c>error ENETUNREACH</c>).</summary>
    private static string Outcome(JsonElement connect) =>
        connect.GetProperty("result").GetString() + (connect.TryGetProperty("errno", out var e) ? " " + e.GetString() : "");

    private static void CompareLog(JsonElement oracle, JsonElement ours, List<string> m)
    {
        if (!oracle.TryGetProperty("log", out var ol)) return;
        var o = ol.EnumerateArray().Select(e => $"<{e.GetProperty("level").GetInt32()}> {e.GetProperty("text").GetString()}").ToList();
        var u = ours.TryGetProperty("log", out var ul)
            ? ul.EnumerateArray().Select(e => $"<{e.GetProperty("level").GetInt32()}> {e.GetProperty("text").GetString()}").ToList() : [];
        if (o.Count != u.Count) m.Add($"LOG: kernel wrote {o.Count} lines, engine {u.Count}");
        for (int i = 0; i < Math.Min(o.Count, u.Count); i++)
            if (o[i] != u[i]) m.Add($"LOG line {i + 1}:\n  kernel {o[i]}\n  engine {u[i]}");
    }

    private static void CompareRecent(JsonElement oracle, JsonElement ours, List<string> m)
    {
        if (!oracle.TryGetProperty("xt_recent", out var or) || or.ValueKind != JsonValueKind.Object) return;
        ours.TryGetProperty("xt_recent", out var ur);
        foreach (var list in or.EnumerateObject())
        {
            static HashSet<string> Entries(JsonElement l) => l.GetProperty("entries").EnumerateArray()
                .Select(e => $"{e.GetProperty("src").GetString()} ttl {e.GetProperty("ttl").GetInt32()} stamps {e.GetProperty("stamps").GetArrayLength()}").ToHashSet();
            var o = Entries(list.Value);
            var u = ur.ValueKind == JsonValueKind.Object && ur.TryGetProperty(list.Name, out var ul) ? Entries(ul) : [];
            if (!o.SetEquals(u)) m.Add($"recent {list.Name}: kernel {{{string.Join(", ", o.Order())}}}, engine {{{string.Join(", ", u.Order())}}}");
        }
    }
}
