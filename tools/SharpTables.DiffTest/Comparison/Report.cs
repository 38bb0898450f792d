using System.Text;
using System.Text.Json;
using SharpTables.DiffTest.Running;

namespace SharpTables.DiffTest.Comparison;

/// <summary>The comparison of one batch, split back into its cases.</summary>
internal sealed class BatchReport(string dir, List<Mismatch> mismatches, CaseMap cases, int caseCount)
{
    public string Dir { get; } = dir;
    public List<Mismatch> Mismatches { get; } = mismatches;
    public int CaseCount { get; } = caseCount;
    /// <summary>Cases that agree with the kernel only in the run with the fw's ISNs in the other half (see <see cref="Judge"/>).</summary>
    public int IsnDependentCases { get; private init; }

    /// <summary>
    /// Simulates a batch and compares it with the kernel's result. The fw's TCP stack picks random
    /// initial sequence numbers in the kernel, which no simulator can know, and a crafted packet that
    /// acknowledges the fw's SYN-ACK with some other number is outside conntrack's window either above
    /// (INVALID: no NAT, no state) or below (ignored: the entry still applies), depending on which half of
    /// the sequence space that random ISN fell in. So a batch with disagreeing cases is simulated again
    /// with every fw ISN moved by 2^31 (<see cref="Simulator.OtherIsn"/>): a case that agrees in that run
    /// agrees with one of the kernel's possible choices, made independently per connection. Cases that
    /// do not touch the fw's sequence numbers come out the same in both runs.
    /// </summary>
    public static BatchReport Judge(Simulator sim, string dir)
    {
        var first = Run(sim, dir, null);
        if (first.Mismatches.Count == 0 || first.Mismatches.Any(m => m.Kind == "simulator")) return first;
        var other = Run(sim, dir, Simulator.OtherIsn);
        var otherFailing = other.ByCase();
        var kept = new List<Mismatch>();
        int dependent = 0;
        foreach (var (id, list) in first.ByCase())
        {
            if (id >= 0 && !otherFailing.ContainsKey(id)) dependent++;
            else kept.AddRange(list);
        }
        return new BatchReport(dir, kept, first.Cases, first.CaseCount) { IsnDependentCases = dependent };
    }

    private static BatchReport Run(Simulator sim, string dir, uint? isn)
    {
        var (doc, error) = sim.Run(dir, isn);
        using (doc) return doc == null ? Failed(dir, error!) : Create(dir, doc.RootElement);
    }

    private CaseMap Cases { get; } = cases;

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
            int key = Cases.CaseOf(m) ?? -1;
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
        string isn = IsnDependentCases > 0 ? $" ({IsnDependentCases} with the fw's ISNs in the other half)" : "";
        if (Mismatches.Count == 0) return sb.Append($"{Dir}: {CaseCount} cases agree{isn}\n").ToString();
        var by = ByCase();
        sb.Append($"{Dir}: {Mismatches.Count} mismatches in {by.Count} of {CaseCount} cases{isn}\n");
        foreach (var (id, list) in by.OrderBy(kv => kv.Key))
        {
            string feats = Cases.Features.TryGetValue(id, out var f) ? " [" + string.Join(",", f) + "]" : "";
            sb.Append(id >= 0 ? $"  case {id}{feats}:\n" : "  not attributable to one case:\n");
            foreach (var m in list.Take(maxPerCase)) sb.Append("    ").Append(m).Append('\n');
            if (list.Count > maxPerCase) sb.Append($"    ... {list.Count - maxPerCase} more\n");
        }
        return sb.ToString();
    }
}
