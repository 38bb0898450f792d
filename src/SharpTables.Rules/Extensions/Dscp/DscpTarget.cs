using System.Text;
using SharpTables.Rules.Extensions.XtOpt;

namespace SharpTables.Rules.Extensions.Dscp;

/// <summary><c>-j DSCP</c> (libxt_DSCP / xt_DSCP): rewrite the 6-bit DiffServ code point.</summary>
public sealed class DscpTargetExtension : TargetExtension
{
    public override string Name => "DSCP";

    public override IReadOnlyList<OptionDef> Options { get; } =
    [
        new("set-dscp"),
        new("set-dscp-class"),
    ];

    public override TargetInstance Create() => new DscpTarget(this);
}

public sealed class DscpTarget(DscpTargetExtension ext) : TargetInstance
{
    private const int OSetDscp = 0, OSetDscpClass = 1;

    private static readonly XtOptRow[] s_table =
    [
        new("set-dscp", OSetDscp, Excl: 1u << OSetDscpClass),
        new("set-dscp-class", OSetDscpClass, Excl: 1u << OSetDscp),
    ];

    private uint _flags;

    public override Extension Extension => ext;

    /// <summary>The code point written into the packet (0-63, the upper six bits of the TOS byte).</summary>
    public byte Value { get; private set; }

    /// <summary>The new TOS byte for a packet whose TOS byte is <paramref name="tos"/> (ECN bits kept).</summary>
    public byte Apply(byte tos) => (byte)((tos & 0x03) | (Value << 2));

    public override void Parse(OptionDef option, string? arg, bool invert, RuleContext ctx)
    {
        if (option.Name == "set-dscp")
        {
            Value = (byte)XtInt.Parse("DSCP", option.Name, arg, 0, DscpMatch.MaxValue);
            _flags |= 1u << OSetDscp;
        }
        else
        {
            Value = DscpClasses.Parse(arg ?? "");
            _flags |= 1u << OSetDscpClass;
        }
    }

    public override void FinalCheck(RuleContext ctx)
    {
        if (_flags == 0) throw Xt.Param("DSCP target: Parameter --set-dscp is required");
        XtOptionTable.CheckCombinations("DSCP", s_table, _flags);
    }

    /// <summary>xt_DSCP registers the IPv4 and IPv6 DSCP targets for the mangle table only.</summary>
    public override string? CheckEntry(KernelCheckContext ctx) => ctx.Table != "mangle" ? "Invalid argument" : null;

    public override void Save(StringBuilder sb) => sb.Append(" --set-dscp 0x").Append(Value.ToString("x2"));

    public override void Print(StringBuilder sb, bool numeric) => sb.Append(" DSCP set 0x").Append(Value.ToString("x2"));
}
