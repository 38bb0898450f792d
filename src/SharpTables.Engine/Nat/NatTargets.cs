using SharpTables.Rules.Extensions.Nat;

namespace SharpTables.Engine.Nat;

/// <summary>
/// SNAT, DNAT, MASQUERADE and REDIRECT (xt_nat.c, xt_MASQUERADE.c, xt_REDIRECT.c): each sets the
/// connection's binding through <see cref="NatService"/> and returns NF_ACCEPT, as the kernel
/// targets do (NF_DROP when MASQUERADE/REDIRECT find no address). The walker runs nat chains
/// only for a connection's first packet, so a packet without a conntrack entry never gets here.
/// </summary>
public sealed class CompiledNatTarget(NatTargetKind kind, NatRangeSpec range) : CompiledTarget
{
    /// <summary>Which target this is.</summary>
    public NatTargetKind Kind { get; } = kind;

    /// <summary>The compiled range.</summary>
    public NatRangeSpec Range { get; } = range;

    public override TargetVerdict Execute(Packet p, in TargetContext ctx)
    {
        var ct = p.Conn;
        if (ct == null) return TargetVerdict.Accept;
        var nat = ctx.State.Nat;
        return Kind switch
        {
            NatTargetKind.Snat => nat.SetupInfo(ct, Range, NatManip.Source),
            NatTargetKind.Dnat => nat.SetupInfo(ct, Range, NatManip.Destination),
            NatTargetKind.Masquerade => nat.Masquerade(p, Range),
            _ => nat.Redirect(p, Range),
        };
    }
}

/// <summary>The four NAT targets.</summary>
public enum NatTargetKind : byte { Snat, Dnat, Masquerade, Redirect }

/// <summary>Compiles <c>-j SNAT</c>.</summary>
public sealed class SnatTargetCompiler : TargetCompiler<SnatTarget>
{
    protected override CompiledTarget Compile(SnatTarget target, CompileContext ctx) =>
        new CompiledNatTarget(NatTargetKind.Snat, NatRangeSpec.From(target.Range));
}

/// <summary>Compiles <c>-j DNAT</c>.</summary>
public sealed class DnatTargetCompiler : TargetCompiler<DnatTarget>
{
    protected override CompiledTarget Compile(DnatTarget target, CompileContext ctx) =>
        new CompiledNatTarget(NatTargetKind.Dnat, NatRangeSpec.From(target.Range));
}

/// <summary>Compiles <c>-j MASQUERADE</c>.</summary>
public sealed class MasqueradeTargetCompiler : TargetCompiler<MasqueradeTarget>
{
    protected override CompiledTarget Compile(MasqueradeTarget target, CompileContext ctx) =>
        new CompiledNatTarget(NatTargetKind.Masquerade, NatRangeSpec.From(target.Range));
}

/// <summary>Compiles <c>-j REDIRECT</c>.</summary>
public sealed class RedirectTargetCompiler : TargetCompiler<RedirectTarget>
{
    protected override CompiledTarget Compile(RedirectTarget target, CompileContext ctx) =>
        new CompiledNatTarget(NatTargetKind.Redirect, NatRangeSpec.From(target.Range));
}
