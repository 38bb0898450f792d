using System.Text;
using System.Text.Json;

namespace SharpTables.DiffTest.Comparison;

/// <summary>The comparison of one batch, split back into its cases.</summary>
internal sealed class BatchReport(string dir, List<Mismatch> mismatches, CaseMap cases, int caseCount)
{
    public string Dir { get; } = dir;
    public List<Mismatch> Mismatches { get; } = mismatches;
    public int CaseCount { get; } = caseCount;

    /// <summary>Compares a batch's stored oracle result with <paramref name="ours"/>.</summary>
    public static BatchReport Create(string dir, JsonElement ours, bool oursFromKernel = false)
    {
        using var oracle = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, BatchFiles.Oracle)));
        using var meta = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, BatchFiles.Meta)));
        var map = new CaseMap(meta.RootElement);
        return new BatchReport(dir, Comparator.Compare(oracle.RootElement, ours, oursFromKernel), map, meta.RootElement.GetProperty("cases").GetArrayLength());
    }

    /// <summary>A batch whose simulation failed: one mismatch for the whole batch.</summary>
    public static BatchReport Failed(string dir, string error)
    {
        using var meta = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, BatchFiles.Meta)));
        return new BatchReport(dir, [new Mismatch("simulator", "batch", "a result", error)], new CaseMap(meta.RootElement),
            meta.RootElement.GetProperty("cases").GetArrayLength());
    }

    /// <summary>Mismatches per case id (null key: not attributable to one case).</summary>
    public Dictionary<int, List<Mismatch>> ByCase()
    {
        var d = new Dictionary<int, List<Mismatch>>();
        foreach (var m in Mismatches)
        {
            int key = cases.CaseOf(m) ?? -1;
            if (!d.TryGetValue(key, out var l)) d[key] = l = [];
            l.Add(m);
        }
        return d;
    }

    /// <summary>Cases with at least one mismatch (an unattributable mismatch counts as one).</summary>
    public int FailedCases => Mismatches.Count == 0 ? 0 : ByCase().Count;

    public string Render(int maxPerCase = 12)
    {
        var sb = new StringBuilder();
        if (Mismatches.Count == 0) return sb.Append($"{Dir}: {CaseCount} cases agree\n").ToString();
        var by = ByCase();
        sb.Append($"{Dir}: {Mismatches.Count} mismatches in {by.Count} of {CaseCount} cases\n");
        foreach (var (id, list) in by.OrderBy(kv => kv.Key))
        {
            string feats = cases.Features.TryGetValue(id, out var f) ? " [" + string.Join(",", f) + "]" : "";
            sb.Append(id >= 0 ? $"  case {id}{feats}:\n" : "  not attributable to one case:\n");
            foreach (var m in list.Take(maxPerCase)) sb.Append("    ").Append(m).Append('\n');
            if (list.Count > maxPerCase) sb.Append($"    ... {list.Count - maxPerCase} more\n");
        }
        return sb.ToString();
    }
}
