using SharpTables.Engine;
using SharpTables.Netlink;
using SharpTables.Rules.Model;

namespace SharpTables.Daemon;

/// <summary>What <c>sharptablesd</c> was asked to do.</summary>
public sealed record DaemonOptions
{
    /// <summary>The first queue number.</summary>
    public ushort Queue { get; init; }
    /// <summary>How many queues (--queue-balance Queue:Queue+Queues-1), one worker thread each.</summary>
    public int Queues { get; init; } = 1;
    /// <summary>Let packets pass when no daemon listens (--queue-bypass) or its queue is full (F_FAIL_OPEN).</summary>
    public bool FailOpen { get; init; }
    /// <summary>The iptables binaries used for the diversion.</summary>
    public string Iptables { get; init; } = "iptables";
    public string Ip6tables { get; init; } = "ip6tables";
    /// <summary>The syslog socket LOG lines are sent to; null for none (then, without an event file either, they go to the daemon's log).</summary>
    public string? SyslogSocket { get; init; }
    /// <summary>The JSON-lines file LOG lines are appended to; null for none.</summary>
    public string? EventFile { get; init; }
}

/// <summary>
/// The packet path of sharptablesd: binds the queues, starts one <see cref="QueueWorker"/> per
/// queue, diverts the hooks the ruleset uses to them, and undoes it all on <see cref="Stop"/>.
/// It owns the current rulesets (the model the control socket's commands edit, see
/// <see cref="BeginEdit"/>); <see cref="Apply"/> and <see cref="Commit"/> swap in new rulesets
/// (conntrack and recent state kept) and adjust the diversion to the hooks they need.
/// </summary>
public sealed class SharpTablesDaemon : IDisposable
{
    private readonly DaemonOptions _options;
    private readonly TextWriter _log;
    private readonly List<NfQueue> _queues = [];
    private readonly List<QueueWorker> _workers = [];
    private readonly object _applyLock = new();
    private Diversion? _divert4, _divert6;
    private DateTime _started;
    private bool _running, _redivert;
    private Ruleset _model4, _model6;

    public SharpTablesDaemon(DaemonOptions options, Ruleset? ipv4, Ruleset? ipv6, TextWriter log)
    {
        _options = options;
        _log = log;
        _model4 = ipv4 ?? new Ruleset(Family.IPv4);
        _model6 = ipv6 ?? new Ruleset(Family.IPv6);
        if (options.SyslogSocket != null || options.EventFile != null)
            LogOutput = new LogOutput(options.SyslogSocket, options.EventFile, log);
        Path = new PacketPath(_model4, _model6, log, logOutput: LogOutput);
    }

    /// <summary>Where LOG lines go (syslog, event file); null when they go to the daemon's log.</summary>
    public LogOutput? LogOutput { get; }

    /// <summary>The shared engine and what surrounds it.</summary>
    public PacketPath Path { get; }
    public IReadOnlyList<QueueWorker> Workers => _workers;
    /// <summary>The hooks currently diverted, per family.</summary>
    public DivertedHooks DivertedIPv4 => _divert4?.Hooks ?? DivertedHooks.None;
    public DivertedHooks DivertedIPv6 => _divert6?.Hooks ?? DivertedHooks.None;

    /// <summary>Binds the queues, starts the workers, then installs the diversion.</summary>
    public void Start()
    {
        var queueOptions = new NfQueueOptions
        {
            Flags = NfQueueFlags.Gso | NfQueueFlags.UidGid | (_options.FailOpen ? NfQueueFlags.FailOpen : 0),
        };
        for (int i = 0; i < _options.Queues; i++)
        {
            var q = NfQueue.Open((ushort)(_options.Queue + i), queueOptions);
            _queues.Add(q);
            var w = new QueueWorker(q, Path, _log);
            _workers.Add(w);
            w.Start();
        }
        _started = DateTime.UtcNow;
        lock (_applyLock)
        {
            _running = true;
            Divert(Path.Engine.Ruleset);
        }
    }

    /// <summary>Swaps in new rulesets (null: no rules for that family; conntrack and recent lists stay) and re-plans the diversion.</summary>
    public void Apply(Ruleset? ipv4, Ruleset? ipv6)
    {
        using var edit = BeginEdit();
        var compiled = CompiledRuleset.Compile(Path.Engine.State, ipv4, ipv6);
        Install(ipv4 ?? new Ruleset(Family.IPv4), ipv6 ?? new Ruleset(Family.IPv6), compiled);
    }

    /// <summary>
    /// Exclusive access to the rulesets for one command: no other edit, and no packet goes
    /// through the engine (so no counter moves) until it is disposed; a diversion the new rules
    /// need is installed after packets flow again. Dispose on the thread that began it.
    /// </summary>
    public IDisposable BeginEdit()
    {
        Monitor.Enter(_applyLock);
        try
        {
            return new Edit(this, Path.Pause());
        }
        catch
        {
            Monitor.Exit(_applyLock);
            throw;
        }
    }

    private sealed class Edit(SharpTablesDaemon daemon, IDisposable pause) : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            pause.Dispose();
            try
            {
                if (daemon._redivert && daemon._running) daemon.Divert(daemon.Path.Engine.Ruleset);
            }
            finally
            {
                daemon._redivert = false;
                Monitor.Exit(daemon._applyLock);
            }
        }
    }

    /// <summary>A copy of a family's current ruleset carrying the engine's live counters. Call inside <see cref="BeginEdit"/>.</summary>
    public Ruleset LiveCopy(Family family)
    {
        RequireEdit();
        var copy = (family == Family.IPv6 ? _model6 : _model4).Clone();
        Path.Engine.Ruleset.CopyCountersTo(copy);
        return copy;
    }

    /// <summary>
    /// Makes <paramref name="ruleset"/> the family's ruleset: compiles it (with the other family's
    /// current rules and live counters), runs <paramref name="persist"/>, and only when both
    /// succeeded swaps it into the engine. Counters start from the ruleset's own (zeroed by -Z,
    /// live ones from <see cref="LiveCopy"/> otherwise). Call inside <see cref="BeginEdit"/>.
    /// </summary>
    public void Commit(Family family, Ruleset ruleset, Action? persist)
    {
        RequireEdit();
        var v4 = family == Family.IPv4 ? ruleset : LiveCopy(Family.IPv4);
        var v6 = family == Family.IPv6 ? ruleset : LiveCopy(Family.IPv6);
        var compiled = CompiledRuleset.Compile(Path.Engine.State, v4, v6);
        try
        {
            persist?.Invoke();
        }
        catch
        {
            compiled.Dispose();
            throw;
        }
        Install(v4, v6, compiled);
    }

    private void Install(Ruleset v4, Ruleset v6, CompiledRuleset compiled)
    {
        Path.Engine.Swap(compiled);
        _model4 = v4;
        _model6 = v6;
        _redivert = true;
    }

    private void RequireEdit()
    {
        if (!Path.Engine.State.Walks.PausedByCurrentThread || !Monitor.IsEntered(_applyLock))
            throw new InvalidOperationException("the daemon's rulesets are used outside BeginEdit");
    }

    private void Divert(CompiledRuleset rules)
    {
        _divert4 = Redivert(_divert4, _options.Iptables, Diversion.Plan(rules.IPv4));
        _divert6 = Redivert(_divert6, _options.Ip6tables, Diversion.Plan(rules.IPv6));
    }

    private Diversion? Redivert(Diversion? current, string iptables, DivertedHooks hooks)
    {
        if (current != null && current.Hooks == hooks) return current;
        if (hooks == DivertedHooks.None)
        {
            current?.Remove();
            return null;
        }
        var next = new Diversion(iptables, hooks, _options.Queue, _options.Queues, _options.FailOpen);
        next.Install();
        return next;
    }

    /// <summary>Removes the diversion first (no new packets are queued), then lets the workers answer what is left and closes the queues.</summary>
    public void Stop()
    {
        lock (_applyLock)
        {
            _running = false;
            _divert4?.Remove();
            _divert6?.Remove();
            _divert4 = _divert6 = null;
        }
        foreach (var w in _workers) w.Stop(TimeSpan.FromSeconds(5));
        foreach (var q in _queues) q.Dispose();
        _queues.Clear();
    }

    /// <summary>One line of totals: packets, verdicts, replies and the average rate since start.</summary>
    public string Summary()
    {
        long packets = 0, accepted = 0, dropped = 0, rewritten = 0, errors = 0;
        foreach (var w in _workers)
        {
            packets += w.Packets;
            accepted += w.Accepted;
            dropped += w.Dropped;
            rewritten += w.Rewritten;
            errors += w.Errors;
        }
        double seconds = Math.Max(1e-3, (DateTime.UtcNow - _started).TotalSeconds);
        return $"packets={packets} accepted={accepted} dropped={dropped} rewritten={rewritten} replies={Path.RepliesSent} reply_failures={Path.RepliesFailed} " +
               $"errors={errors} log_lines={LogOutput?.Written ?? 0} log_lost={LogOutput?.Lost ?? 0} seconds={seconds:F1} pps={packets / seconds:F0}";
    }

    public void Dispose()
    {
        Stop();
        Path.Dispose();
        LogOutput?.Dispose();
    }
}
