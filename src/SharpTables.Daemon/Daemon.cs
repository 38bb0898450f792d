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
}

/// <summary>
/// The packet path of sharptablesd: binds the queues, starts one <see cref="QueueWorker"/> per
/// queue, diverts the hooks the ruleset uses to them, and undoes it all on <see cref="Stop"/>.
/// <see cref="Apply"/> is the seam for a control socket: it swaps in a new ruleset (state kept)
/// and adjusts the diversion to the hooks the new ruleset needs.
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

    public SharpTablesDaemon(DaemonOptions options, Ruleset? ipv4, Ruleset? ipv6, TextWriter log)
    {
        _options = options;
        _log = log;
        Path = new PacketPath(ipv4, ipv6, log);
    }

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
        Divert(Path.Engine.Ruleset);
    }

    /// <summary>Swaps in a new ruleset (conntrack, recent lists and counters of the state stay) and re-plans the diversion.</summary>
    public void Apply(Ruleset? ipv4, Ruleset? ipv6)
    {
        lock (_applyLock)
        {
            var compiled = Path.Swap(ipv4, ipv6);
            Divert(compiled);
        }
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
        long packets = 0, accepted = 0, dropped = 0, errors = 0;
        foreach (var w in _workers)
        {
            packets += w.Packets;
            accepted += w.Accepted;
            dropped += w.Dropped;
            errors += w.Errors;
        }
        double seconds = Math.Max(1e-3, (DateTime.UtcNow - _started).TotalSeconds);
        return $"packets={packets} accepted={accepted} dropped={dropped} replies={Path.RepliesSent} reply_failures={Path.RepliesFailed} " +
               $"errors={errors} seconds={seconds:F1} pps={packets / seconds:F0}";
    }

    public void Dispose()
    {
        Stop();
        Path.Dispose();
    }
}
