using SharpTables.Engine.State;
using SharpTables.Rules.Model;
using SharpTables.Rules.Storage;

namespace SharpTables.Cli;

/// <summary>
/// Where a command's ruleset lives: the state files (<see cref="FileRulesetHost"/>, the offline
/// CLI) or a running sharptablesd's in-memory model. The command code is the same for both.
/// </summary>
public interface IRulesetHost
{
    /// <summary>Starts one command's read-modify-write of a family's ruleset; the state lock is held until the session is disposed.</summary>
    IRulesetSession Open(string directory, Family family);
}

/// <summary>One command's exclusive access to a ruleset.</summary>
public interface IRulesetSession : IDisposable
{
    /// <summary>The current ruleset, with current counters; the caller may change it and hand it to <see cref="Save"/>.</summary>
    Ruleset Load();

    /// <summary>Makes <paramref name="ruleset"/> the current ruleset (persisted atomically). Not calling it changes nothing.</summary>
    void Save(Ruleset ruleset);
}

/// <summary>The offline host: rules.v4/rules.v6 in the state directory through <see cref="StateStore"/>.</summary>
public sealed class FileRulesetHost : IRulesetHost
{
    /// <summary>The one instance.</summary>
    public static readonly FileRulesetHost Instance = new();

    /// <inheritdoc/>
    public IRulesetSession Open(string directory, Family family) => new Session(new StateStore(directory, family));

    private sealed class Session(StateStore store) : IRulesetSession
    {
        private readonly IDisposable _lock = store.Lock();

        public Ruleset Load() => store.Load();
        public void Save(Ruleset ruleset) => store.Save(ruleset);
        public void Dispose() => _lock.Dispose();
    }
}

/// <summary>
/// How one invocation runs. The default is the offline CLI at a terminal: state files, or the
/// running daemon when one answers on the state directory's control socket. Inside sharptablesd
/// the daemon's host, the client's working directory, terminal and clock are given instead, so
/// the output is what the client would have printed offline.
/// </summary>
public sealed record CliContext
{
    /// <summary>The ruleset host; null means the state files, or the running daemon when there is one.</summary>
    public IRulesetHost? Host { get; init; }
    /// <summary>Relative file names (restore FILE) are resolved against this directory; null means the process's own.</summary>
    public string? WorkingDirectory { get; init; }
    /// <summary>Whether the invoking user's stderr is a terminal (for <see cref="Hints"/>).</summary>
    public bool StderrIsTerminal { get; init; } = !Console.IsErrorRedirected;
    /// <summary>SHARPTABLES_HINTS of the invoking user.</summary>
    public string? HintsMode { get; init; } = Environment.GetEnvironmentVariable("SHARPTABLES_HINTS");
    /// <summary>The invoking user's local time (the date in save's header); null means now.</summary>
    public DateTime? Now { get; init; }
    /// <summary>The live recent lists (inside the daemon); null offline.</summary>
    public RecentTables? Recent { get; init; }

    /// <summary>Whether this invocation runs inside sharptablesd for a client.</summary>
    public bool InDaemon => Host != null && Host is not FileRulesetHost;

    internal string Resolve(string path) => WorkingDirectory == null ? path : Path.Combine(WorkingDirectory, path);
}
