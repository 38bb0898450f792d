using System.Runtime.InteropServices;
using System.Text;
using SharpTables.Rules.Commands;
using SharpTables.Rules.Model;

namespace SharpTables.Rules.Storage;

/// <summary>
/// The ruleset between invocations: <c>rules.v4</c> (iptables) or <c>rules.v6</c> (ip6tables) in
/// iptables-save -c format inside the state directory. Readers and writers hold an exclusive lock
/// on <c>xtables.lock</c> (one lock for both families, as iptables and ip6tables share
/// /run/xtables.lock) for the whole read-modify-write, and a write is atomic: temp file, fsync,
/// rename, fsync of the directory. A crash leaves either the old file or the new one, never half of one.
/// </summary>
public sealed class StateStore
{
    /// <summary>The IPv4 ruleset's file name.</summary>
    public const string RulesFile = "rules.v4";
    /// <summary>The IPv6 ruleset's file name.</summary>
    public const string RulesFile6 = "rules.v6";
    public const string LockFile = "xtables.lock";

    public StateStore(string directory, Family family = Family.IPv4)
    {
        Directory = directory;
        Family = family;
    }

    public string Directory { get; }
    /// <summary>Which ruleset this store keeps.</summary>
    public Family Family { get; }
    public string RulesPath => Path.Combine(Directory, Family == Family.IPv6 ? RulesFile6 : RulesFile);

    /// <summary>The state directory: --state-dir, then $SHARPTABLES_STATE_DIR, then the default for this user.</summary>
    public static string ResolveDirectory(string? option)
    {
        if (!string.IsNullOrEmpty(option)) return option;
        var env = Environment.GetEnvironmentVariable("SHARPTABLES_STATE_DIR");
        if (!string.IsNullOrEmpty(env)) return env;
        if (Environment.UserName == "root" || geteuid() == 0) return "/var/lib/sharptables";
        var xdg = Environment.GetEnvironmentVariable("XDG_STATE_HOME");
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return Path.Combine(string.IsNullOrEmpty(xdg) ? Path.Combine(home, ".local", "state") : xdg, "sharptables");
    }

    [DllImport("libc", SetLastError = true)] private static extern uint geteuid();
    [DllImport("libc", SetLastError = true)] private static extern int open(string path, int flags);
    [DllImport("libc", SetLastError = true)] private static extern int fsync(int fd);
    [DllImport("libc", SetLastError = true)] private static extern int close(int fd);

    /// <summary>Takes the lock, waiting for another invocation to finish (bounded).</summary>
    public IDisposable Lock(TimeSpan? wait = null)
    {
        System.IO.Directory.CreateDirectory(Directory);
        var deadline = DateTime.UtcNow + (wait ?? TimeSpan.FromSeconds(60));
        while (true)
        {
            try
            {
                return new FileStream(Path.Combine(Directory, LockFile), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(5);
            }
            catch (IOException)
            {
                throw new XtablesException(XtablesExit.ResourceProblem,
                    "Another app is currently holding the xtables lock. Stopped waiting after 60s.", ErrorStyle.Plain);
            }
        }
    }

    /// <summary>Loads the saved ruleset (empty when there is none). Call with the lock held.</summary>
    public Ruleset Load()
    {
        if (!File.Exists(RulesPath)) return new Ruleset(Family);
        var text = File.ReadAllText(RulesPath);
        // Warnings the saved rules raise (e.g. ip6tables' "never matched protocol") were shown when
        // the rules were added; reading them back is silent.
        var warnings = Xt.WarningWriter;
        Xt.WarningWriter = TextWriter.Null;
        try
        {
            return Restore.Apply(new Ruleset(Family), text, new RestoreOptions { Counters = true, KeepRuleCounters = true });
        }
        catch (XtablesException e)
        {
            throw new XtablesException(XtablesExit.OtherProblem,
                $"saved ruleset {RulesPath} is unreadable at line {e.Line}: {e.Message.Trim()}", ErrorStyle.Short);
        }
        finally
        {
            Xt.WarningWriter = warnings;
        }
    }

    /// <summary>Writes the ruleset atomically. Call with the lock held.</summary>
    public void Save(Ruleset ruleset)
    {
        System.IO.Directory.CreateDirectory(Directory);
        var text = Restore.Save(ruleset, counters: true);
        WriteAtomically(RulesPath, text);
    }

    public static void WriteAtomically(string path, string text)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var tmp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        try
        {
            using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                var bytes = Encoding.UTF8.GetBytes(text);
                fs.Write(bytes);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { }
            throw;
        }
        int fd = open(dir, 0 /* O_RDONLY */);
        if (fd >= 0) { fsync(fd); close(fd); }
    }
}
