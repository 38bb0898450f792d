using System.Text;
using SharpTables.Rules.Extensions.XtOpt;
using SharpTables.Rules.Model;

namespace SharpTables.Rules.Extensions.Ttl;

/// <summary>What the TTL target does (the kernel's IPT_TTL_SET/INC/DEC; the numbers are ABI).</summary>
public enum TtlTargetMode : byte { Set = 0, Increment = 1, Decrement = 2 }

/// <summary><c>-j TTL</c> (libipt_TTL / xt_HL): set, increase or decrease the IPv4 time to live.</summary>
public sealed class TtlTargetExtension : TargetExtension
{
    public override string Name => "TTL";

    public override bool Supports(Family family) => family == Family.IPv4;

    public override IReadOnlyList<OptionDef> Options { get; } =
    [
        new("ttl-set"),
        new("ttl-dec"),
        new("ttl-inc"),
    ];

    public override TargetInstance Create() => new TtlTarget(this);
}

public sealed class TtlTarget(TtlTargetExtension ext) : TargetInstance
{
    private const int OSet = 0, OInc = 1, ODec = 2;
    private const uint AnyOp = (1u << OSet) | (1u << OInc) | (1u << ODec);

    // libipt_TTL's table order (set, dec, inc) decides which pair the exclusion message names.
    private static readonly XtOptRow[] s_table =
    [
        new("ttl-set", OSet, Excl: AnyOp),
        new("ttl-dec", ODec, Excl: AnyOp),
        new("ttl-inc", OInc, Excl: AnyOp),
    ];

    private uint _flags;

    public override Extension Extension => ext;

    public TtlTargetMode Mode { get; private set; }

    /// <summary>The new TTL (<see cref="TtlTargetMode.Set"/>) or the amount to add or subtract (1-255).</summary>
    public byte Value { get; private set; }

    /// <summary>The new TTL for a packet whose TTL is <paramref name="ttl"/> (xt_HL saturates at 0 and 255).</summary>
    public byte Apply(byte ttl) => Mode switch
    {
        TtlTargetMode.Set => Value,
        TtlTargetMode.Increment => (byte)Math.Min(255, ttl + Value),
        _ => (byte)Math.Max(0, ttl - Value),
    };

    public override void Parse(OptionDef option, string? arg, bool invert, RuleContext ctx)
    {
        (Mode, int id, ulong min) = option.Name switch
        {
            "ttl-set" => (TtlTargetMode.Set, OSet, 0ul),
            "ttl-inc" => (TtlTargetMode.Increment, OInc, 1ul),
            _ => (TtlTargetMode.Decrement, ODec, 1ul),
        };
        Value = (byte)XtInt.Parse("TTL", option.Name, arg, min, byte.MaxValue);
        _flags |= 1u << id;
    }

    public override void FinalCheck(RuleContext ctx)
    {
        if ((_flags & AnyOp) == 0) throw Xt.Param("TTL: You must specify an action");
        XtOptionTable.CheckCombinations("TTL", s_table, _flags);
    }

    /// <summary>xt_HL registers the TTL target for the mangle table only.</summary>
    public override string? CheckEntry(KernelCheckContext ctx) => ctx.Table != "mangle" ? "Invalid argument" : null;

    public override void Save(StringBuilder sb) => sb.Append(Mode switch
    {
        TtlTargetMode.Set => " --ttl-set ",
        TtlTargetMode.Increment => " --ttl-inc ",
        _ => " --ttl-dec ",
    }).Append(Value);

    public override void Print(StringBuilder sb, bool numeric) => sb.Append(Mode switch
    {
        TtlTargetMode.Set => " TTL set to ",
        TtlTargetMode.Increment => " TTL increment by ",
        _ => " TTL decrement by ",
    }).Append(Value);
}
