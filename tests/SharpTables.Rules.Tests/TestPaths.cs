namespace SharpTables.Rules.Tests;

/// <summary>Locates the repository and the shared ground-truth folder beside it.</summary>
public static class TestPaths
{
    public static string RepoRoot { get; } = FindRoot();

    /// <summary>../shared relative to the repository (CI clones the repo with shared/ beside it).</summary>
    public static string Shared
    {
        get
        {
            var env = Environment.GetEnvironmentVariable("SHARPTABLES_SHARED");
            if (!string.IsNullOrEmpty(env)) return env;
            return Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));
        }
    }

    public static string Fixtures => Path.Combine(RepoRoot, "tests", "fixtures");

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "SharpTables.slnx"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("repository root not found");
    }

    /// <summary>Python shlex.split, the way the oracle tools split command lines.</summary>
    public static List<string> ShellSplit(string s)
    {
        var words = new List<string>();
        var cur = new System.Text.StringBuilder();
        bool have = false;
        char quote = '\0';
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (quote == '\'')
            {
                if (c == '\'') quote = '\0'; else cur.Append(c);
                continue;
            }
            if (quote == '"')
            {
                if (c == '"') quote = '\0';
                else if (c == '\\' && i + 1 < s.Length && (s[i + 1] is '"' or '\\' or '$' or '`')) cur.Append(s[++i]);
                else cur.Append(c);
                continue;
            }
            if (c is '\'' or '"') { quote = c; have = true; continue; }
            if (c == '\\' && i + 1 < s.Length) { cur.Append(s[++i]); have = true; continue; }
            if (char.IsWhiteSpace(c))
            {
                if (have) { words.Add(cur.ToString()); cur.Clear(); have = false; }
                continue;
            }
            cur.Append(c);
            have = true;
        }
        if (have) words.Add(cur.ToString());
        return words;
    }

    /// <summary>iptables' messages with our program name where iptables names itself.</summary>
    public static string OurName(string iptablesText, string ours = "sharptables", string theirs = "iptables") =>
        iptablesText
            .Replace($"{theirs} v1.8.9", $"{ours} v1.8.9")
            .Replace($"`{theirs} -h' or '{theirs} --help'", $"`{ours} -h' or '{ours} --help'")
            .Replace($"{theirs}: ", $"{ours}: ")
            .Replace($"Perhaps {theirs} or", $"Perhaps {ours} or")
            .Replace($"cannot be used in {theirs}.", $"cannot be used in {ours}.");
}
