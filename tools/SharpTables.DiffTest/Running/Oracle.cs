using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace SharpTables.DiffTest.Running;

/// <summary>
/// Runs ../shared/oracle/oracle-run (the real kernel, in throw-away namespaces; needs root) on a batch
/// directory. This process never touches netfilter itself: oracle-run does, in its own namespaces.
/// </summary>
internal sealed class Oracle(string oracleRun, int settleMs)
{
    /// <summary>The oracle's outcome: exit status (0 ok, 3 ruleset refused), the result, the refused rule lines.</summary>
    public sealed record Outcome(int Exit, JsonObject? Result, string Stderr, List<int> RefusedLines, TimeSpan Elapsed);

    /// <summary>SHARPTABLES_SHARED/oracle/oracle-run, else shared/oracle/oracle-run in the nearest folder above the repository that has one.</summary>
    public static string DefaultPath(string repoRoot)
    {
        var shared = Environment.GetEnvironmentVariable("SHARPTABLES_SHARED");
        if (!string.IsNullOrEmpty(shared)) return Path.Combine(shared, "oracle", "oracle-run");
        for (var d = new DirectoryInfo(repoRoot).Parent; d != null; d = d.Parent)
        {
            string p = Path.Combine(d.FullName, "shared", "oracle", "oracle-run");
            if (File.Exists(p)) return p;
        }
        return Path.GetFullPath(Path.Combine(repoRoot, "..", "shared", "oracle", "oracle-run"));
    }

    public Outcome Run(string batchDir, string topology)
    {
        string raw = Path.Combine(batchDir, "oracle.raw.json");
        var args = new List<string>
        {
            "--rules", Path.Combine(batchDir, BatchFiles.Rules), "--scenario", Path.Combine(batchDir, BatchFiles.Scenario),
            "--backend", "nft", "--topology", topology, "--quiet", "--no-per-line",
            "--settle-ms", settleMs.ToString(), "--timeout", "170", "--out", raw,
        };
        // oracle-run bounds itself (Python alarm + timeout(1) in its wrapper) and cleans up its namespaces
        // on every exit path, so it is never killed from here.
        var res = ProcessRunner.Run(oracleRun, args, timeout: null);
        JsonObject? result = null;
        if (File.Exists(raw))
        {
            result = JsonNode.Parse(File.ReadAllText(raw)) as JsonObject;
            File.Delete(raw);
        }
        var refused = new List<int>();
        if (res.Exit == 3 && result?["load"]?["ipv4"]?["stderr"]?.GetValue<string>() is { } err)
            foreach (Match m in Regex.Matches(err, @"line (\d+)"))
                refused.Add(int.Parse(m.Groups[1].Value));
        return new Outcome(res.Exit, result, res.Stderr, refused, res.Elapsed);
    }

    /// <summary>
    /// The stored form of a result: without the iptables-save text (the same data as <c>tables</c>) and
    /// without LOG lines that do not carry the batch tag. LOG lines of locally generated packets are
    /// attributed to a run by address only, so another oracle run on the machine using the same
    /// documentation addresses could otherwise leak its lines into this result; every LOG rule this
    /// generator writes has a prefix starting with the tag. Returns how many lines were dropped.
    /// </summary>
    public static int Minimise(JsonObject result, string tag)
    {
        result.Remove("save");
        int dropped = 0;
        bool Foreign(JsonNode? n) => !(n?.GetValue<string>() ?? "").StartsWith(tag, StringComparison.Ordinal);
        if (result["log"] is JsonArray log)
            dropped += RemoveWhere(log, e => Foreign(e?["text"]));
        if (result["lines"] is JsonArray lines)
            foreach (var l in lines)
            {
                if (l?["log"] is JsonArray ll) RemoveWhere(ll, e => Foreign(e?["text"]));
                if (l?["packets"] is JsonArray ps)
                    foreach (var p in ps)
                        if (p?["log_lines"] is JsonArray pl)
                        {
                            RemoveWhere(pl, Foreign);
                            if (pl.Count == 0) ((JsonObject)p).Remove("log_lines");
                        }
            }
        if (dropped > 0) (result["warnings"] as JsonArray)?.Add($"difftest: dropped {dropped} LOG lines of other runs (no '{tag}' prefix)");
        return dropped;
    }

    private static int RemoveWhere(JsonArray a, Func<JsonNode?, bool> pred)
    {
        int n = 0;
        for (int i = a.Count - 1; i >= 0; i--)
            if (pred(a[i])) { a.RemoveAt(i); n++; }
        return n;
    }

    /// <summary>Compact JSON text.</summary>
    public static string ToText(JsonNode n) => n.ToJsonString(new JsonSerializerOptions { WriteIndented = false }) + "\n";
}
