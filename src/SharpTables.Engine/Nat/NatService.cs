using SharpTables.Rules.Model;

namespace SharpTables.Engine.Nat;

/// <summary>
/// NAT bindings (nf_nat_core / nf_nat_inet_fn). STUB: the NAT work replaces this file.
/// The walker, where the nat table sits on a hook, asks <see cref="NeedsChain"/>: only the first
/// packet of a connection traverses the nat chains; after the chain <see cref="Complete"/> sets
/// a null binding if no target did, and applies the binding to the packet.
/// </summary>
public sealed class NatService(EngineState state)
{
    public EngineState State { get; } = state;

    /// <summary>True when the packet is the first of its connection for this manip type (so the nat chain must run).</summary>
    public bool NeedsChain(Packet p, Hook hook) => false;

    /// <summary>After the nat chain ran (or was skipped): null binding if none, then rewrite the packet per the binding.</summary>
    public void Complete(Packet p, Hook hook) { }
}
