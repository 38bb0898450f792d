using SharpTables.Cli;
using SharpTables.Rules.Commands;
using SharpTables.Rules.Model;
using SharpTables.Rules.Storage;

namespace SharpTables.Daemon;

/// <summary>
/// The CLI's ruleset host inside sharptablesd: a session holds the state directory's lock (as
/// the offline CLI does) and the daemon's edit lock, loads the live ruleset with the engine's
/// counters, and saves by compiling, persisting through <see cref="StateStore"/> (atomically,
/// as the CLI does) and swapping the engine's ruleset — in that order, so a failure at any step
/// leaves both the file and the engine as they were.
/// </summary>
public sealed class DaemonRulesetHost(SharpTablesDaemon daemon, string stateDirectory) : IRulesetHost
{
    /// <summary>The daemon's state directory (the client's directory argument is ignored).</summary>
    public string StateDirectory { get; } = stateDirectory;

    /// <inheritdoc/>
    public IRulesetSession Open(string directory, Family family) => new Session(daemon, new StateStore(StateDirectory, family));

    /// <summary>
    /// Writes each family's live ruleset with its current counters to the state files (under the
    /// state lock) when it differs from what is there; a family without rules and without a file
    /// gets none. Used when the daemon stops.
    /// </summary>
    public void PersistCounters()
    {
        var store4 = new StateStore(StateDirectory, Family.IPv4);
        using var fileLock = store4.Lock();
        using var edit = daemon.BeginEdit();
        foreach (var store in new[] { store4, new StateStore(StateDirectory, Family.IPv6) })
        {
            var live = daemon.LiveCopy(store.Family);
            bool exists = File.Exists(store.RulesPath);
            if (!exists && !live.Tables.Any()) continue;
            if (exists && File.ReadAllText(store.RulesPath) == Restore.Save(live, counters: true)) continue;
            store.Save(live);
        }
    }

    private sealed class Session : IRulesetSession
    {
        private readonly SharpTablesDaemon _daemon;
        private readonly StateStore _store;
        private readonly IDisposable _fileLock;
        private readonly IDisposable _edit;

        public Session(SharpTablesDaemon daemon, StateStore store)
        {
            _daemon = daemon;
            _store = store;
            _fileLock = store.Lock();
            try
            {
                _edit = daemon.BeginEdit();
            }
            catch
            {
                _fileLock.Dispose();
                throw;
            }
        }

        public Ruleset Load() => _daemon.LiveCopy(_store.Family);

        public void Save(Ruleset ruleset) => _daemon.Commit(_store.Family, ruleset, () => _store.Save(ruleset));

        public void Dispose()
        {
            try { _edit.Dispose(); }
            finally { _fileLock.Dispose(); }
        }
    }
}
