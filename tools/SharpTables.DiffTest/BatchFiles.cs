using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using SharpTables.DiffTest.Generation;

namespace SharpTables.DiffTest;

/// <summary>
/// A batch directory: <c>rules.v4</c> (iptables-restore input), <c>scenario.jsonl</c> (oracle scenario),
/// <c>meta.json</c> (seed, cases, which rule and line belongs to which case) and, once recorded,
/// <c>oracle.json</c> (oracle-run's result, minimised).
/// </summary>
internal static class BatchFiles
{
    public const string Rules = "rules.v4";
    public const string Scenario = "scenario.jsonl";
    public const string Meta = "meta.json";
    public const string Oracle = "oracle.json";

    private static readonly JsonSerializerOptions s_compact = new() { WriteIndented = false };

    /// <summary>Writes the generated files of <paramref name="b"/> into <paramref name="dir"/>.</summary>
    public static void Write(BatchSpec b, string dir)
    {
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, Rules), b.RulesText);
        var sc = new StringBuilder();
        foreach (var (line, _) in b.Lines) sc.Append(line.ToJsonString(s_compact)).Append('\n');
        File.WriteAllText(Path.Combine(dir, Scenario), sc.ToString());
        File.WriteAllText(Path.Combine(dir, Meta), MetaJson(b).ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    /// <summary>What the comparator and the reports need to know about a batch.</summary>
    public static JsonObject MetaJson(BatchSpec b)
    {
        var cases = new JsonArray();
        foreach (var c in b.Cases.OrderBy(c => c.Id))
        {
            cases.Add(new JsonObject
            {
                ["id"] = c.Id,
                ["tail"] = c.IsTail,
                ["client"] = new JsonArray(c.ClientAddrs.Select(a => (JsonNode)a).ToArray()),
                ["backend"] = new JsonArray(c.BackendAddrs.Select(a => (JsonNode)a).ToArray()),
                ["attempt"] = c.Attempt,
                ["features"] = new JsonArray(c.Features.Order().Select(f => (JsonNode)f).ToArray()),
                ["lines"] = b.Lines.Count(l => l.Case == c.Id),
            });
        }
        var owners = new JsonObject();
        foreach (var (k, v) in b.BuiltinOwners) owners[k] = Compact(v);
        return new JsonObject
        {
            ["generator"] = BatchGenerator.Version,
            ["seed"] = b.Seed,
            ["index"] = b.Index,
            ["tag"] = b.Tag,
            ["topology"] = b.Router ? "router" : "host",
            ["conntrack"] = b.Conntrack,
            ["tables"] = new JsonArray(b.TableNames.Select(t => (JsonNode)t).ToArray()),
            ["cases"] = cases,
            ["builtin_owners"] = owners,
            ["line_cases"] = Compact(b.Lines.Select(l => l.Case)),
            ["notes"] = new JsonArray(b.Notes.Select(n => (JsonNode)n).ToArray()),
        };
    }

    private static JsonArray Compact(IEnumerable<int> xs) => new(xs.Select(x => (JsonNode)x).ToArray());

    /// <summary>Batch directories under <paramref name="root"/> (any folder holding a rules file), sorted.</summary>
    public static List<string> Find(string root)
    {
        if (File.Exists(Path.Combine(root, Rules))) return [root];
        return Directory.EnumerateFiles(root, Rules, SearchOption.AllDirectories)
            .Select(f => Path.GetDirectoryName(f)!).Order(StringComparer.Ordinal).ToList();
    }
}
