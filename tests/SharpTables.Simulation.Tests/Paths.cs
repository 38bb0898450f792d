namespace SharpTables.Simulation.Tests;

internal static class Paths
{
    /// <summary>The repository root (the directory holding SharpTables.slnx).</summary>
    public static string Repo
    {
        get
        {
            var d = new DirectoryInfo(AppContext.BaseDirectory);
            while (d != null && !File.Exists(Path.Combine(d.FullName, "SharpTables.slnx"))) d = d.Parent;
            return d?.FullName ?? throw new InvalidOperationException("repository root not found");
        }
    }

    /// <summary>../shared beside the repository, or $SHARPTABLES_SHARED.</summary>
    public static string Shared => Environment.GetEnvironmentVariable("SHARPTABLES_SHARED") ?? Path.GetFullPath(Path.Combine(Repo, "..", "shared"));
}
