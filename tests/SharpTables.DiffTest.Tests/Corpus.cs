namespace SharpTables.DiffTest.Tests;

/// <summary>The recorded corpus in tests/fixtures/differential.</summary>
internal static class Corpus
{
    public static string Root { get; } = Path.Combine(FindRepo(), "tests", "fixtures", "differential");

    /// <summary>Every recorded batch directory (the corpus and its regressions).</summary>
    public static List<string> Batches() => BatchFiles.Find(Root).Where(d => File.Exists(Path.Combine(d, BatchFiles.Oracle))).ToList();

    public static string RepoRoot => FindRepo();

    private static string FindRepo()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "SharpTables.slnx"))) return d.FullName;
        throw new InvalidOperationException("repository root not found");
    }
}
