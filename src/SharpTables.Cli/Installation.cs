namespace SharpTables.Cli;

/// <summary>Where the pieces of an installed SharpTables are: programs on PATH, the dotnet host, sharptablesd.dll.</summary>
internal static class Installation
{
    /// <summary>A program on PATH (or in the sbin directories sudo and cron leave out), or null.</summary>
    public static string? Which(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Concat(["/usr/sbin", "/sbin", "/usr/bin", "/bin"]))
            if (dir.Length > 0 && File.Exists(Path.Combine(dir, name))) return Path.Combine(dir, name);
        return null;
    }

    /// <summary>sharptablesd.dll: $SHARPTABLESD_DLL, next to this program (tests, artifacts/daemon), or in ../daemon (artifacts/cli).</summary>
    public static string? DaemonDll()
    {
        var env = Environment.GetEnvironmentVariable("SHARPTABLESD_DLL");
        foreach (var candidate in new[] { env, Path.Combine(AppContext.BaseDirectory, "sharptablesd.dll"), Path.Combine(AppContext.BaseDirectory, "..", "daemon", "sharptablesd.dll") })
            if (!string.IsNullOrEmpty(candidate) && File.Exists(candidate)) return Path.GetFullPath(candidate);
        return null;
    }

    /// <summary>The dotnet host running us (it runs the daemon too), else the one on PATH.</summary>
    public static string Dotnet()
    {
        var self = Environment.ProcessPath;
        return self != null && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : Which("dotnet") ?? "dotnet";
    }

    /// <summary>The effective uid.</summary>
    public static uint EffectiveUid() => geteuid();

    [System.Runtime.InteropServices.DllImport("libc")] private static extern uint geteuid();
}
