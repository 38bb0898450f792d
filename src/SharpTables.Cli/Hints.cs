namespace SharpTables.Cli;

/// <summary>
/// One extra line after iptables' error when a person at a terminal pasted a tutorial's typo.
/// Scripts (stderr not a terminal) see exactly iptables' text. SHARPTABLES_HINTS=always|never overrides.
/// </summary>
public static class Hints
{
    /// <summary>Writes the hint for <paramref name="argv"/>, if any, when <paramref name="mode"/> (SHARPTABLES_HINTS) and the terminal allow.</summary>
    public static void Write(IReadOnlyList<string> argv, TextWriter stderr, string? mode, bool stderrIsTerminal)
    {
        bool show = mode switch
        {
            "always" => true,
            "never" => false,
            _ => stderrIsTerminal,
        };
        if (!show) return;
        var hint = Find(argv);
        if (hint != null) stderr.WriteLine("hint: " + hint);
    }

    /// <summary>The hint for a command line, or null.</summary>
    public static string? Find(IReadOnlyList<string> argv)
    {
        for (int i = 0; i < argv.Count; i++)
        {
            var a = argv[i];
            if (a.Length > 1 && (a[0] == '\u2013' || a[0] == '\u2014'))
            {
                var fixedWord = "--" + a.TrimStart('\u2013', '\u2014');
                return $"`{a}' starts with a typographic dash; type two ASCII hyphens: {fixedWord}";
            }
            if (a.EndsWith(',') && i + 1 < argv.Count && !argv[i + 1].StartsWith('-'))
                return $"remove the space after the comma: {a}{argv[i + 1]}";
            if (a is "-s" or "-d" or "--source" or "--destination" or "-i" or "-o" or "-p"
                && i + 2 < argv.Count && argv[i + 1] == "!")
                return $"the `{a} ! {argv[i + 2]}' spelling is no longer accepted; write `! {a} {argv[i + 2]}'";
        }
        return null;
    }
}
