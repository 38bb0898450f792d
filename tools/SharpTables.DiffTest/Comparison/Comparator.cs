using System.Text.Json;
using System.Text.RegularExpressions;

namespace SharpTables.DiffTest.Comparison;

/// <summary>One difference between the kernel's result and ours.</summary>
/// <param name="Kind">What differs: rule-packets, rule-bytes, rule-text, policy, chain, verdict, hooks, log, recent, ...</param>
/// <param name="Where">A readable location, e.g. <c>filter/INPUT#3</c> or <c>line 17 packet 2</c>.</param>
/// <param name="Kernel">The oracle's value.</param>
/// <param name="Ours">Our value.</param>
public sealed record Mismatch(string Kind, string Where, string Kernel, string Ours)
{
    /// <summary>Chain of a counter mismatch ("table/CHAIN").</summary>
    public string? Chain { get; init; }
    /// <summary>Rule index (1-based) of a rule mismatch.</summary>
    public int? Rule { get; init; }
    /// <summary>Scenario line of a packet mismatch.</summary>
    public int? Line { get; init; }
    /// <summary>recent list name of a recent mismatch.</summary>
    public string? List { get; init; }
    /// <summary>The LOG line text (kernel's, or ours when the kernel has none) of a log mismatch.</summary>
    public string? LogText { get; init; }

    public override string ToString() => $"{Kind} {Where}: kernel {Kernel}, ours {Ours}";
}

/// <summary>
/// Compares an oracle-run result with SharpTables' simulation result (same JSON shape):
/// every rule and policy counter of every table and chain (and the rule texts), per-packet verdicts
/// (and the hooks each packet was seen at, when ours reports them), tcp_connect outcomes, recent lists
/// (address, TTL, number of timestamps; not the jiffies) and LOG lines (all of them, in order).
/// <para>Two things of the kernel's result are not taken at face value:</para>
/// <list type="bullet">
/// <item>LOG lines are compared verbatim except for IP IDs (<c>TTL=n ID=m</c>, also inside quoted packets):
/// the kernel gives the packets it makes itself (ICMP errors and replies, real connections) hashed random IDs,
/// which no simulator can know, and a scenario packet's ID is just the marker the scenario gave it.</item>
/// <item>oracle-run sees packets at the hooks by their IP ID (the scenario's marker), so a packet the kernel
/// makes with a random ID that happens to equal a marker is counted as that scenario packet. A packet whose
/// record shows such a collision is left out of the verdict and hook comparison (see <see cref="Collided"/>).</item>
/// </list>
/// </summary>
public static class Comparator
{
    /// <summary>All differences between <paramref name="oracle"/> and <paramref name="ours"/>.</summary>
    /// <param name="oursFromKernel">
    /// <paramref name="ours"/> is another kernel run (a stability check), so its packet records can show marker
    /// collisions too.
    /// </param>
    public static List<Mismatch> Compare(JsonElement oracle, JsonElement ours, bool oursFromKernel = false)
    {
        var list = new List<Mismatch>();
        CompareTables(oracle, ours, list);
        CompareLines(oracle, ours, list, oursFromKernel);
        CompareRecent(oracle, ours, list);
        CompareLog(oracle, ours, list);
        return list;
    }

    // ------------------------------------------------------------------ tables

    private static void CompareTables(JsonElement oracle, JsonElement ours, List<Mismatch> list)
    {
        var kt = Prop(oracle, "tables");
        var ot = Prop(ours, "tables");
        foreach (var fam in Names(kt, ot))
        {
            var kf = Prop(kt, fam);
            var of = Prop(ot, fam);
            foreach (var table in Names(kf, of))
            {
                var kc = Prop(Prop(kf, table), "chains");
                var oc = Prop(Prop(of, table), "chains");
                foreach (var chain in Names(kc, oc))
                {
                    string where = $"{table}/{chain}";
                    var k = Prop(kc, chain);
                    var o = Prop(oc, chain);
                    if (k.ValueKind == JsonValueKind.Undefined || o.ValueKind == JsonValueKind.Undefined)
                    {
                        list.Add(new("chain", where, Exists(k), Exists(o)) { Chain = where });
                        continue;
                    }
                    CompareChain(where, k, o, list);
                }
            }
        }
    }

    private static void CompareChain(string where, JsonElement k, JsonElement o, List<Mismatch> list)
    {
        if (Str(k, "policy") is { } kp)
        {
            string? op = Str(o, "policy");
            if (kp != op) list.Add(new("policy", where, kp, op ?? "none") { Chain = where });
            Num(list, "policy-packets", where, k, o, "policy_packets", chain: where);
            Num(list, "policy-bytes", where, k, o, "policy_bytes", chain: where);
        }
        var kr = Arr(k, "rules");
        var or = Arr(o, "rules");
        if (kr.Count != or.Count)
            list.Add(new("rule-count", where, kr.Count.ToString(), or.Count.ToString()) { Chain = where });
        for (int i = 0; i < Math.Min(kr.Count, or.Count); i++)
        {
            int index = i + 1;
            string w = $"{where}#{index}";
            string ktext = Str(kr[i], "rule") ?? "";
            string otext = Str(or[i], "rule") ?? "";
            if (ktext != otext) list.Add(new("rule-text", w, ktext, otext) { Chain = where, Rule = index });
            Num(list, "rule-packets", w, kr[i], or[i], "packets", where, index, ktext);
            Num(list, "rule-bytes", w, kr[i], or[i], "bytes", where, index, ktext);
        }
    }

    private static void Num(List<Mismatch> list, string kind, string where, JsonElement k, JsonElement o, string prop,
        string? chain = null, int? rule = null, string? text = null)
    {
        long? kv = Long(k, prop), ov = Long(o, prop);
        if (kv != ov)
            list.Add(new(kind, text == null ? where : $"{where} [{text}]", kv?.ToString() ?? "none", ov?.ToString() ?? "none") { Chain = chain, Rule = rule });
    }

    // ------------------------------------------------------------------ lines

    private static void CompareLines(JsonElement oracle, JsonElement ours, List<Mismatch> list, bool oursFromKernel)
    {
        var byLine = new Dictionary<long, JsonElement>();
        foreach (var l in Arr(ours, "lines"))
            if (Long(l, "line") is long n) byLine[n] = l;
        foreach (var kl in Arr(oracle, "lines"))
        {
            long n = Long(kl, "line") ?? -1;
            string where = $"line {n}";
            if (!byLine.TryGetValue(n, out var ol))
            {
                list.Add(new("line", where, "present", "missing") { Line = (int)n });
                continue;
            }
            if (Prop(kl, "connect") is { ValueKind: JsonValueKind.Object } kc && Prop(ol, "connect") is { ValueKind: JsonValueKind.Object } oc)
            {
                // The result, with the errno of an "error" (ENETUNREACH, EHOSTUNREACH, ...).
                string? kr = Str(kc, "result") + (Str(kc, "errno") is string ke ? " " + ke : "");
                string? or = Str(oc, "result") + (Str(oc, "errno") is string oe ? " " + oe : "");
                if (kr != or) list.Add(new("connect", where, kr ?? "none", or ?? "none") { Line = (int)n });
            }
            var kp = Arr(kl, "packets");
            var op = Arr(ol, "packets");
            if (kp.Count != op.Count)
                list.Add(new("packet-count", where, kp.Count.ToString(), op.Count.ToString()) { Line = (int)n });
            string dir = Str(kl, "dir") ?? "in";
            if (kp.Count > 1 && kp.Count == op.Count)
            {
                // A burst (count > 1) is the same packet several times: its verdicts are compared as a whole, in case
                // two packets of it were handled in the other order (see the generator's burst spacing).
                var kv = new List<string>();
                var ov = new List<string>();
                for (int i = 0; i < kp.Count; i++)
                {
                    if (Collided(dir, kp[i]) || oursFromKernel && Collided(dir, op[i])) continue;
                    kv.Add(Str(kp[i], "verdict") + (Prop(op[i], "hooks_seen").ValueKind == JsonValueKind.Object ? " " + Hooks(Prop(kp[i], "hooks_seen")) : ""));
                    ov.Add(Str(op[i], "verdict") + (Prop(op[i], "hooks_seen") is { ValueKind: JsonValueKind.Object } oh ? " " + Hooks(oh) : ""));
                }
                kv.Sort(StringComparer.Ordinal);
                ov.Sort(StringComparer.Ordinal);
                if (!kv.SequenceEqual(ov))
                    list.Add(new("verdict", $"{where} ({kp.Count} packets) [{Str(kp[0], "summary")}]", string.Join("; ", kv), string.Join("; ", ov)) { Line = (int)n });
                continue;
            }
            for (int i = 0; i < Math.Min(kp.Count, op.Count); i++)
            {
                if (Collided(dir, kp[i]) || oursFromKernel && Collided(dir, op[i])) continue;
                string w = $"{where} packet {i + 1}";
                string summary = Str(kp[i], "summary") ?? "";
                string? kv = Str(kp[i], "verdict"), ov = Str(op[i], "verdict");
                if (kv != ov) list.Add(new("verdict", $"{w} [{summary}]", kv ?? "none", ov ?? "none") { Line = (int)n });
                if (Prop(op[i], "hooks_seen") is { ValueKind: JsonValueKind.Object } oh)
                {
                    string kh = Hooks(Prop(kp[i], "hooks_seen")), ohs = Hooks(oh);
                    if (kh != ohs) list.Add(new("hooks", $"{w} [{summary}]", kh, ohs) { Line = (int)n });
                }
            }
        }
    }

    /// <summary>
    /// Whether the oracle's record of a scenario packet shows that another packet with the same IP ID was
    /// counted with it: a hook passed twice (a scenario packet passes each hook at most once); a packet from
    /// outside (in, fwd, fwd-rev) seen at OUTPUT (only packets the firewall makes pass there); or a packet the
    /// firewall sent (out, local) whose send failed with EPERM (a drop in OUTPUT or POSTROUTING) but which was
    /// still seen to get through or to leave POSTROUTING, or which was seen coming in (PREROUTING, INPUT) without going out through
    /// OUTPUT first. (The other way round is no contradiction: with conntrack, OUTPUT's defragmentation takes
    /// a fragment without an error.)
    /// </summary>
    public static bool Collided(string dir, JsonElement packet)
    {
        var h = Prop(packet, "hooks_seen");
        foreach (var hook in new[] { "prerouting", "input", "forward", "output", "postrouting" })
            if (Long(h, hook) is > 1) return true;
        if (dir is "in" or "fwd" or "fwd-rev" && Long(h, "output") is > 0) return true;
        if (dir is "out" or "local" && Long(h, "output") is not > 0 && (Long(h, "prerouting") is > 0 || Long(h, "input") is > 0)) return true;
        // oracle-run observes POSTROUTING after every table: a packet seen there was not dropped by a rule.
        return dir is "out" or "local" && Str(packet, "send_error") == "EPERM"
            && (Str(packet, "verdict") == "accepted" || Long(h, "postrouting") is > 0);
    }

    private static string Hooks(JsonElement h)
    {
        if (h.ValueKind != JsonValueKind.Object) return "none";
        var seen = new List<string>();
        foreach (var hook in new[] { "prerouting", "input", "forward", "output", "postrouting" })
            if (Long(h, hook) is long c && c > 0) seen.Add(c == 1 ? hook : $"{hook}x{c}");
        return seen.Count == 0 ? "-" : string.Join(",", seen);
    }

    // ------------------------------------------------------------------ recent

    private static void CompareRecent(JsonElement oracle, JsonElement ours, List<Mismatch> list)
    {
        var kr = Prop(oracle, "xt_recent");
        var or = Prop(ours, "xt_recent");
        foreach (var name in Names(kr, or))
        {
            var k = Entries(Prop(kr, name));
            var o = Entries(Prop(or, name));
            foreach (var src in k.Keys.Union(o.Keys).Order(StringComparer.Ordinal))
            {
                string where = $"xt_recent/{name} {src}";
                bool hk = k.TryGetValue(src, out var ke), ho = o.TryGetValue(src, out var oe);
                if (!hk || !ho)
                {
                    list.Add(new("recent-entry", where, hk ? Show(ke) : "absent", ho ? Show(oe) : "absent") { List = name });
                    continue;
                }
                if (ke != oe) list.Add(new("recent", where, Show(ke), Show(oe)) { List = name });
            }
        }
    }

    private static string Show((long Ttl, int Stamps) e) => $"ttl {e.Ttl}, {e.Stamps} stamps";

    private static Dictionary<string, (long Ttl, int Stamps)> Entries(JsonElement table)
    {
        var d = new Dictionary<string, (long, int)>();
        foreach (var e in Arr(table, "entries"))
            if (Str(e, "src") is { } src) d[src] = (Long(e, "ttl") ?? -1, Arr(e, "stamps").Count);
        return d;
    }

    // ------------------------------------------------------------------ log

    private static readonly Regex s_ipId = new(@"\bTTL=(\d+) ID=\d+ ", RegexOptions.CultureInvariant);

    /// <summary>A LOG line with its IP IDs (the <c>ID=</c> after <c>TTL=</c>, outer and quoted) replaced by <c>*</c>.</summary>
    public static string NormaliseLog(string text) => s_ipId.Replace(text, "TTL=$1 ID=* ");

    private static void CompareLog(JsonElement oracle, JsonElement ours, List<Mismatch> list)
    {
        var k = Arr(oracle, "log").Select(LogEntry).ToList();
        string? macBase = MacBase(oracle);
        var o = Arr(ours, "log").Where(e => OracleCaptures(Str(e, "text") ?? "", macBase)).Select(LogEntry).ToList();
        if (k.SequenceEqual(o)) return;
        // Same lines in another order: one mismatch; otherwise every line one side lacks.
        var ko = k.Order(StringComparer.Ordinal).ToList();
        var oo = o.Order(StringComparer.Ordinal).ToList();
        if (ko.SequenceEqual(oo))
        {
            int i = 0;
            while (k[i] == o[i]) i++;
            list.Add(new("log-order", $"log[{i}]", k[i], o[i]) { LogText = k[i] });
            return;
        }
        var rest = o.GroupBy(x => x).ToDictionary(g => g.Key, g => g.Count());
        foreach (var line in k)
        {
            if (rest.TryGetValue(line, out int c) && c > 0) { rest[line] = c - 1; continue; }
            list.Add(new("log", "log line", line, "absent") { LogText = line });
        }
        foreach (var (line, c) in rest)
            for (int i = 0; i < c; i++) list.Add(new("log", "log line", "absent", line) { LogText = line });
    }

    /// <summary>
    /// oracle-run keeps a kernel LOG line only when it shows one of the run's MAC addresses, or no MAC
    /// at all: a packet received on lo (MAC=00:00:...) is logged by the kernel but never reported. Our
    /// lines go through the same filter, so that blind spot is not counted as a disagreement.
    /// </summary>
    private static bool OracleCaptures(string text, string? macBase) =>
        macBase == null || !text.Contains("MAC=", StringComparison.Ordinal) || text.Contains(macBase, StringComparison.Ordinal);

    /// <summary>The first four octets every MAC of the run shares (oracle-run's per-run MAC base).</summary>
    private static string? MacBase(JsonElement oracle)
    {
        if (Prop(Prop(oracle, "topology"), "interfaces") is { ValueKind: JsonValueKind.Object } ifs)
            foreach (var i in ifs.EnumerateObject())
                if (Str(i.Value, "mac") is { Length: >= 11 } mac) return mac[..11];
        return null;
    }

    private static string LogEntry(JsonElement e) => $"<{Long(e, "level") ?? -1}>{NormaliseLog(Str(e, "text") ?? "")}";

    // ------------------------------------------------------------------ JSON helpers

    private static JsonElement Prop(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) ? v : default;

    private static IEnumerable<string> Names(JsonElement a, JsonElement b)
    {
        var names = new List<string>();
        foreach (var e in new[] { a, b })
            if (e.ValueKind == JsonValueKind.Object)
                foreach (var p in e.EnumerateObject())
                    if (!names.Contains(p.Name)) names.Add(p.Name);
        return names;
    }

    private static List<JsonElement> Arr(JsonElement e, string name) =>
        Prop(e, name) is { ValueKind: JsonValueKind.Array } a ? a.EnumerateArray().ToList() : [];

    private static string? Str(JsonElement e, string name) =>
        Prop(e, name) is { ValueKind: JsonValueKind.String } s ? s.GetString() : null;

    private static long? Long(JsonElement e, string name) =>
        Prop(e, name) is { ValueKind: JsonValueKind.Number } n && n.TryGetInt64(out long v) ? v : null;

    private static string Exists(JsonElement e) => e.ValueKind == JsonValueKind.Undefined ? "absent" : "present";

    private static string Show(List<string> lines) => lines.Count == 0 ? "no lines" : string.Join(" | ", lines);
}
