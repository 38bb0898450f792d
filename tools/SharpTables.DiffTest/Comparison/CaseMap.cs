using System.Text.Json;
using System.Text.RegularExpressions;

namespace SharpTables.DiffTest.Comparison;

/// <summary>Which case of a batch a mismatch belongs to, from the batch's <c>meta.json</c>.</summary>
internal sealed class CaseMap
{
    private readonly Dictionary<string, List<int>> _owners = [];
    private readonly List<int> _lineCases = [];
    private readonly Regex _logCase;

    public CaseMap(JsonElement meta)
    {
        if (meta.TryGetProperty("builtin_owners", out var owners))
            foreach (var p in owners.EnumerateObject())
                _owners[p.Name] = p.Value.EnumerateArray().Select(x => x.GetInt32()).ToList();
        if (meta.TryGetProperty("line_cases", out var lines))
            _lineCases = lines.EnumerateArray().Select(x => x.GetInt32()).ToList();
        string tag = meta.TryGetProperty("tag", out var t) ? t.GetString() ?? "" : "";
        _logCase = new Regex(Regex.Escape(tag) + @"c(\d+)r\d+ ", RegexOptions.CultureInvariant);
        Features = [];
        if (meta.TryGetProperty("cases", out var cases))
            foreach (var c in cases.EnumerateArray())
                Features[c.GetProperty("id").GetInt32()] = c.GetProperty("features").EnumerateArray().Select(x => x.GetString()!).ToList();
    }

    /// <summary>The case a scenario line (1-based) belongs to, or null for setup lines.</summary>
    public int? CaseOfLine(int line) => line >= 1 && line - 1 < _lineCases.Count && _lineCases[line - 1] >= 0 ? _lineCases[line - 1] : null;

    /// <summary>Features per case id.</summary>
    public Dictionary<int, List<string>> Features { get; }

    private static readonly Regex s_caseChain = new(@"^c(\d+)_", RegexOptions.CultureInvariant);

    /// <summary>The case id, or null when the mismatch is not attributable (a shared counter, a foreign log line).</summary>
    public int? CaseOf(Mismatch m)
    {
        if (m.Chain is { } chain)
        {
            string name = chain[(chain.IndexOf('/') + 1)..];
            if (s_caseChain.Match(name) is { Success: true } cm) return int.Parse(cm.Groups[1].Value);
            if (m.Rule is int rule && _owners.TryGetValue(chain, out var owners) && rule - 1 < owners.Count) return owners[rule - 1];
            // A built-in chain's own policy counter belongs to the tail case.
            return m.Kind.StartsWith("policy", StringComparison.Ordinal) ? 0 : null;
        }
        if (m.Line is int line) return CaseOfLine(line);
        if (m.List is { } list && s_caseChain.Match(list) is { Success: true } lm) return int.Parse(lm.Groups[1].Value);
        if (m.LogText is { } text && _logCase.Match(text) is { Success: true } gm) return int.Parse(gm.Groups[1].Value);
        return null;
    }
}
