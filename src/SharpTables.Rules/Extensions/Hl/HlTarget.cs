using System.Text;
using SharpTables.Rules.Extensions.Ttl;
using SharpTables.Rules.Extensions.XtOpt;
using SharpTables.Rules.Model;

namespace SharpTables.Rules.Extensions.Hl;

/// <summary><c>-j HL</c> (libip6t_HL / xt_HL): set, increase or decrease the IPv6 hop limit (modes as <see cref="TtlTargetMode"/>).</summary>
public sealed class HlTargetExtension : TargetExtension
{
    public override string Name => "HL";

    public override bool Supports(Family family) => family == Family.IPv6;

    public override IReadOnlyList<OptionDef> Options { get; } =
    [
        new("hl-set"),
        new("hl-dec"),
        new("hl-inc"),
    ];

    public override TargetInstance Create() => new HlTarget(this);
}

public sealed class HlTarget(HlTargetExtension ext) : TargetInstance
{
    private const int OSet = 0, OInc = 1, ODec = 2;
    private const uint AnyOp = (1u << OSet) | (1u << OInc) | (1u << ODec);

    // libip6t_HL's table order (set, dec, inc) decides which pair the exclusion message names.
    private static readonly XtOptRow[] s_table =
    [
        new("hl-set", OSet, Excl: AnyOp),
        new("hl-dec", ODec, Excl: AnyOp),
        new("hl-inc", OInc, Excl: AnyOp),
    ];

    private uint _flags;

    public override Extension Extension => ext;

    /// <summary>Set, increment or decrement.</summary>
    public TtlTargetMode Mode { get; private set; }

    /// <summary>The new hop limit (<see cref="TtlTargetMode.Set"/>) or the amount to add or subtract (1-255).</summary>
    public byte Value { get; private set; }

    /// <summary>The new hop limit for a packet whose hop limit is <paramref name="hl"/> (xt_HL saturates at 0 and 255).</summary>
    public byte Apply(byte hl) => Mode switch
    {
        TtlTargetMode.Set => Value,
        TtlTargetMode.Increment => (byte)Math.Min(255, hl + Value),
        _ => (byte)Math.Max(0, hl - Value),
    };

    public override void Parse(OptionDef option, string? arg, bool invert, RuleContext ctx)
    {
        (Mode, int id, ulong min) = option.Name switch
        {
            "hl-set" => (TtlTargetMode.Set, OSet, 0ul),
            "hl-inc" => (TtlTargetMode.Increment, OInc, 1ul),
            _ => (TtlTargetMode.Decrement, ODec, 1ul),
        };
        Value = (byte)XtInt.Parse("HL", option.Name, arg, min, byte.MaxValue);
        _flags |= 1u << id;
    }

    public override void FinalCheck(RuleContext ctx)
    {
        if ((_flags & AnyOp) == 0) throw Xt.Param("HL: You must specify an action");
        XtOptionTable.CheckCombinations("HL", s_table, _flags);
    }

    /// <summary>xt_HL registers the HL target for the mangle table only.</summary>
    public override string? CheckEntry(KernelCheckContext ctx) => ctx.Table != "mangle" ? "Invalid argument" : null;

    public override void Save(StringBuilder sb) => sb.Append(Mode switch
    {
        TtlTargetMode.Set => " --hl-set ",
        TtlTargetMode.Increment => " --hl-inc ",
        _ => " --hl-dec ",
    }).Append(Value);

    public override void Print(StringBuilder sb, bool numeric) => sb.Append(Mode switch
    {
        TtlTargetMode.Set => " HL set to ",
        TtlTargetMode.Increment => " HL increment by ",
        _ => " HL decrement by ",
    }).Append(Value);
}
