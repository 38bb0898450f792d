using SharpTables.Rules.Model;

namespace SharpTables.Engine;

/// <summary>The final fate of a packet.</summary>
public enum Verdict : byte { Accept, Drop, Queue, Stolen }

/// <summary>Where a packet ended up and which rule decided it.</summary>
public readonly record struct PacketResult
{
    public Verdict Verdict { get; init; }
    /// <summary>For <see cref="Verdict.Accept"/> of a received packet: delivered to this host (INPUT) rather than forwarded.</summary>
    public bool Local { get; init; }
    /// <summary>The interface a forwarded or locally sent packet leaves through.</summary>
    public NetInterface? Out { get; init; }
    /// <summary>The hook where the verdict was given (the last hook traversed when accepted).</summary>
    public Hook Hook { get; init; }
    /// <summary>Table, chain and 1-based rule number of the deciding rule; rule 0 = the chain's policy; null table = no rule decided (no ruleset, conntrack drop).</summary>
    public string? Table { get; init; }
    public string? Chain { get; init; }
    public int Rule { get; init; }
    /// <summary>IP version of the packet (4 or 6).</summary>
    public byte Family { get; init; }
    /// <summary>NFQUEUE number for <see cref="Verdict.Queue"/>.</summary>
    public ushort QueueNumber { get; init; }
    /// <summary>NFQUEUE --queue-bypass: accept when nobody listens.</summary>
    public bool QueueBypass { get; init; }
    /// <summary>
    /// The confirmed conntrack entry a delivered packet ended with (null: untracked, invalid or
    /// never confirmed) and its ctinfo: what an answer of the host's own ICMP socket inherits.
    /// </summary>
    public Conntrack.Connection? Conn { get; init; }
    public CtInfo CtInfo { get; init; }
}

/// <summary>
/// The netfilter packet path. Holds the current compiled ruleset (swapped atomically with
/// <see cref="Swap"/>) and the <see cref="EngineState"/> that outlives it.
/// </summary>
public sealed partial class NetfilterEngine
{
    private volatile CompiledRuleset _ruleset;

    public NetfilterEngine(EngineState state, CompiledRuleset ruleset)
    {
        State = state;
        _ruleset = ruleset;
    }

    public EngineState State { get; }
    public CompiledRuleset Ruleset => _ruleset;

    /// <summary>
    /// Replaces the ruleset (compiled beforehand against the same <see cref="State"/>); packets in
    /// flight finish with the old one, which is disposed once the last of them is done (packets
    /// that begin meanwhile already take the new one). Conntrack and recent state stay.
    /// </summary>
    public void Swap(CompiledRuleset ruleset)
    {
        if (State.Walks.WalkingOnCurrentThread)
            throw new InvalidOperationException("the ruleset cannot be swapped from within a packet's walk");
        var old = Interlocked.Exchange(ref _ruleset, ruleset);
        if (ReferenceEquals(old, ruleset)) return;
        State.Walks.WaitForWalks();
        old.Dispose();
    }

    /// <summary>Stops the packet path until the result is disposed (see <see cref="WalkGate.Pause"/>).</summary>
    public IDisposable Pause() => State.Walks.Pause();
}
