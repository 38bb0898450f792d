using SharpTables.Rules.Model;

namespace SharpTables.Rules.Extensions.Nat;

// SNAT, DNAT, MASQUERADE and REDIRECT exist for iptables and ip6tables (libxt_NAT registers both families).

/// <summary><c>-j SNAT</c> (libxt_NAT / xt_nat revision 0): rewrite the source address and port.</summary>
public sealed class SnatExtension : TargetExtension
{
    public override string Name => "SNAT";

    public override IReadOnlyList<OptionDef> Options { get; } =
    [
        new("to-source") { Mandatory = true },
        new("random", ArgKind.None),
        new("random-fully", ArgKind.None),
        new("persistent", ArgKind.None),
    ];

    public override TargetInstance Create() => new SnatTarget(this);
}

public sealed class SnatTarget(SnatExtension ext) : NatTarget
{
    public override Extension Extension => ext;
    protected override HookMask AllowedHooks => HookMask.PostRouting | HookMask.Input;
    protected override string PrintPrefix => "to:";
    protected override string SavePrefix => "--to-source ";
}

/// <summary><c>-j DNAT</c> (libxt_NAT / xt_nat revision 2): rewrite the destination address and port.</summary>
public sealed class DnatExtension : TargetExtension
{
    public override string Name => "DNAT";

    public override IReadOnlyList<OptionDef> Options { get; } =
    [
        new("to-destination") { Mandatory = true },
        new("random", ArgKind.None),
        new("persistent", ArgKind.None),
    ];

    public override TargetInstance Create() => new DnatTarget(this);
}

public sealed class DnatTarget(DnatExtension ext) : NatTarget
{
    public override Extension Extension => ext;
    protected override HookMask AllowedHooks => HookMask.PreRouting | HookMask.Output;
    protected override string PrintPrefix => "to:";
    protected override string SavePrefix => "--to-destination ";
    protected override bool KeepsBasePort => true;
}

/// <summary><c>-j MASQUERADE</c> (libxt_NAT / xt_MASQUERADE): SNAT to the outgoing interface's address.</summary>
public sealed class MasqueradeExtension : TargetExtension
{
    public override string Name => "MASQUERADE";

    public override IReadOnlyList<OptionDef> Options { get; } =
    [
        new("to-ports"),
        new("random", ArgKind.None),
        new("random-fully", ArgKind.None),
    ];

    public override TargetInstance Create() => new MasqueradeTarget(this);
}

public sealed class MasqueradeTarget(MasqueradeExtension ext) : NatTarget
{
    public override Extension Extension => ext;
    protected override HookMask AllowedHooks => HookMask.PostRouting;
    protected override string PrintPrefix => "masq ports: ";
    protected override string SavePrefix => "--to-ports ";
    protected override bool PortsOnly => true;
}

/// <summary><c>-j REDIRECT</c> (libxt_NAT / xt_REDIRECT): DNAT to the local machine.</summary>
public sealed class RedirectExtension : TargetExtension
{
    public override string Name => "REDIRECT";

    public override IReadOnlyList<OptionDef> Options { get; } =
    [
        new("to-ports"),
        new("random", ArgKind.None),
    ];

    public override TargetInstance Create() => new RedirectTarget(this);
}

public sealed class RedirectTarget(RedirectExtension ext) : NatTarget
{
    public override Extension Extension => ext;
    protected override HookMask AllowedHooks => HookMask.PreRouting | HookMask.Output;
    protected override string PrintPrefix => "redir ports ";
    protected override string SavePrefix => "--to-ports ";
    protected override bool PortsOnly => true;

    /// <summary>REDIRECT's revision 0 structure cannot carry a shifted port map.</summary>
    public override void FinalCheck(RuleContext ctx)
    {
        if ((Range.Flags & NatRangeFlags.ProtoOffset) != 0)
            throw Xt.Param("Shifted portmap ranges not supported with this kernel");
    }
}
