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
    /// <summary>Cases that agree with the kernel only with some of the fw's ISNs in the other half (see <see cref="Judge"/>).</summary>
    public int IsnDependentCases { get; private init; }

    /// <summary>The fw clock's jiffy phase (ms into a jiffy) of the run reported; see <see cref="Judge"/>.</summary>
    public double ClockPhaseMs { get; private init; }

    /// <summary>At most this many ISN-choosing lines of one case are tried in both halves (2^n - 1 more runs at worst).</summary>
    public const int MaxFlippedLines = 5;

    /// <summary>The jiffy phases tried, in ms into the 4 ms jiffy, when cases still disagree at phase 0.</summary>
    public static readonly double[] ClockPhasesMs = [0.5, 1, 1.5, 2, 2.5, 3, 3.5];

    /// <summary>
    /// Simulates a batch and compares it with the kernel's result, trying what the recording cannot
    /// tell us when cases disagree.
    /// <para>
    /// First the ISNs. The fw's TCP stack picks a random initial sequence number for each connection
    /// in the kernel, which no simulator can know, and a crafted packet that acknowledges the fw's
    /// SYN-ACK with some other number is outside conntrack's window either above (INVALID: no NAT, no
    /// state) or below (ignored: the entry still applies), depending on which half of the sequence
    /// space that ISN fell in. So the batch is simulated again with the ISNs chosen during some of the
    /// disagreeing cases' lines moved by 2^31 (<c>--isn-flip</c>; the first run reports which lines
    /// chose one): every combination of halves for up to <see cref="MaxFlippedLines"/> lines per case,
    /// all disagreeing cases in the same runs. A case that agrees in one of them agrees with one of the
    /// kernel's possible draws. Cases whose lines chose no ISN are not run again.
    /// </para>
    /// <para>
    /// Then the jiffy phase. The recording gives each packet's time but not where the kernel's 4 ms
    /// jiffy boundaries fell, and back-offs counted in whole jiffies (the ICMP redirect limit: the next
    /// one only after 20 ms &lt;&lt; n) decide differently for packets 40 ms apart depending on it. If cases
    /// still disagree, the batch is run at each phase of <see cref="ClockPhasesMs"/>. The kernel had one
    /// phase for the whole batch, so a phase counts only as a whole: the report is that of the phase
    /// with the fewest disagreeing cases, phase 0 on a tie.
    /// </para>
    /// Every run after the first uses every case's ISN choice together, so counters shared by all
    /// cases (the built-in chains' policies) must agree too.
    /// </summary>
    public static BatchReport Judge(Simulator sim, string dir)
    {
        var (first, isnLines) = Run(sim, dir, [], 0);
        if (first.Mismatches.Count == 0 || first.Mismatches.Any(m => m.Kind == "simulator")) return first;
        var chosen = ChooseIsnHalves(sim, dir, first, isnLines);
        int[] flips = chosen.Values.SelectMany(f => f).Order().ToArray();
        // One run with every case's choice: the built-in chains' policy counters add up all cases
        // (they are reported under the tail case), so only that run can show them agreeing.
        var best = chosen.Count > 0 ? Run(sim, dir, flips, 0).Report : first;
        double phase = 0;
        foreach (double p in ClockPhasesMs)
        {
            if (best.Mismatches.Count == 0) break;
            var (run, _) = Run(sim, dir, flips, p);
            if (run.Mismatches.Any(m => m.Kind == "simulator")) break;
            if (run.FailedCases < best.FailedCases) (best, phase) = (run, p);
        }
        if (chosen.Count == 0 && phase == 0) return first;
        var failing = best.ByCase();
        return new BatchReport(dir, best.Mismatches, first.Cases, first.CaseCount)
        {
            IsnDependentCases = chosen.Keys.Count(id => !failing.ContainsKey(id)),
            ClockPhaseMs = phase,
        };
    }

    /// <summary>For each disagreeing case whose lines chose ISNs, the lines to flip with which it agrees (cases that agree in no combination are left out).</summary>
    private static Dictionary<int, int[]> ChooseIsnHalves(Simulator sim, string dir, BatchReport first, int[] isnLines)
    {
        var flippable = first.ByCase().Keys.Where(id => id >= 0)
            .Select(id => (Id: id, Lines: isnLines.Where(l => first.Cases.CaseOfLine(l) == id).Take(MaxFlippedLines).ToArray()))
            .Where(c => c.Lines.Length > 0)
            .ToDictionary(c => c.Id, c => c.Lines);
        int width = flippable.Values.Select(a => a.Length).DefaultIfEmpty(0).Max();
        var chosen = new Dictionary<int, int[]>();
        for (int combo = 1; combo < 1 << width && chosen.Count < flippable.Count; combo++)
        {
            var flips = new Dictionary<int, int[]>();
            foreach (var (id, lines) in flippable)
                if (!chosen.ContainsKey(id) && lines.Where((_, i) => (combo >> i & 1) != 0).ToArray() is { Length: > 0 } f)
                    flips[id] = f;
            if (flips.Count == 0) continue;
            var (run, _) = Run(sim, dir, flips.Values.SelectMany(f => f).Order().ToArray(), 0);
            if (run.Mismatches.Any(m => m.Kind == "simulator")) break;
            var stillFailing = run.ByCase();
            foreach (var (id, f) in flips)
                if (!stillFailing.ContainsKey(id)) chosen[id] = f;
        }
        return chosen;
    }

    private static (BatchReport Report, int[] IsnLines) Run(Simulator sim, string dir, int[] isnFlip, double clockPhaseMs)
    {
        var (doc, error) = sim.Run(dir, isnFlip, clockPhaseMs);
        if (doc == null) return (Failed(dir, error!), []);
        using (doc)
        {
            int[] lines = doc.RootElement.TryGetProperty("isn_lines", out var l) && l.ValueKind == JsonValueKind.Array
                ? l.EnumerateArray().Select(x => x.GetInt32()).ToArray()
                : [];
            return (Create(dir, doc.RootElement), lines);
        }
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
        string isn = (IsnDependentCases > 0 ? $" ({IsnDependentCases} with the fw's ISNs in the other half)" : "")
                     + (ClockPhaseMs != 0 ? $" (at a jiffy phase of {ClockPhaseMs.ToString(System.Globalization.CultureInfo.InvariantCulture)} ms)" : "");
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
