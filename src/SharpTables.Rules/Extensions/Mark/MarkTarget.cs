using System.Text;

namespace SharpTables.Rules.Extensions.Mark;

/// <summary>
/// <c>-j MARK</c> (libxt_MARK revision 2 / xt_mark): every form is stored as one operation on
/// the packet mark, <c>mark = (mark AND NOT Mask) XOR Value</c>; save always writes it as
/// <c>--set-xmark Value/Mask</c>.
/// </summary>
public sealed class MarkTargetExtension : TargetExtension
{
    public override string Name => "MARK";

    public override IReadOnlyList<OptionDef> Options { get; } =
    [
        new("set-xmark"),
        new("set-mark"),
        new("and-mark"),
        new("or-mark"),
        new("xor-mark"),
    ];

    public override TargetInstance Create() => new MarkTarget(this);
}

public sealed class MarkTarget(MarkTargetExtension ext) : TargetInstance
{
    private const int OSetMark = 0, OAndMark = 1, OOrMark = 2, OXorMark = 3, OSetXmark = 4;
    private const uint AnyOp = (1u << OSetMark) | (1u << OAndMark) | (1u << OOrMark) | (1u << OXorMark) | (1u << OSetXmark);

    private static readonly XtOptRow[] s_table =
    [
        new("set-xmark", OSetXmark, Excl: AnyOp),
        new("set-mark", OSetMark, Excl: AnyOp),
        new("and-mark", OAndMark, Excl: AnyOp),
        new("or-mark", OOrMark, Excl: AnyOp),
        new("xor-mark", OXorMark, Excl: AnyOp),
    ];

    private uint _flags;

    public override Extension Extension => ext;

    /// <summary>Bits XORed into the mark after the <see cref="Mask"/> bits are cleared.</summary>
    public uint Value { get; private set; }

    /// <summary>Bits of the mark cleared first.</summary>
    public uint Mask { get; private set; }

    /// <summary>The new mark for a packet whose mark is <paramref name="mark"/>.</summary>
    public uint Apply(uint mark) => (mark & ~Mask) ^ Value;

    public override void Parse(OptionDef option, string? arg, bool invert, RuleContext ctx)
    {
        switch (option.Name)
        {
            case "set-xmark":
                (Value, Mask) = XtParsing.MarkMask("MARK", option.Name, arg!);
                _flags |= 1u << OSetXmark;
                break;
            case "set-mark":
            {
                var (v, m) = XtParsing.MarkMask("MARK", option.Name, arg!);
                Value = v;
                Mask = v | m;
                _flags |= 1u << OSetMark;
                break;
            }
            case "and-mark":
                Value = 0;
                Mask = ~Xt.ParseUInt("MARK", option.Name, arg);
                _flags |= 1u << OAndMark;
                break;
            case "or-mark":
                Value = Mask = Xt.ParseUInt("MARK", option.Name, arg);
                _flags |= 1u << OOrMark;
                break;
            case "xor-mark":
                Value = Xt.ParseUInt("MARK", option.Name, arg);
                Mask = 0;
                _flags |= 1u << OXorMark;
                break;
        }
    }

    public override void FinalCheck(RuleContext ctx)
    {
        if (_flags == 0)
            throw Xt.Param("MARK: One of the --set-xmark, --{and,or,xor,set}-mark options is required");
        XtOptionTable.CheckCombinations("MARK", s_table, _flags);
    }

    public override void Save(StringBuilder sb) =>
        sb.Append(" --set-xmark ").Append(Xt.Hex(Value)).Append('/').Append(Xt.Hex(Mask));

    public override void Print(StringBuilder sb, bool numeric)
    {
        if (Value == 0) sb.Append(" MARK and ").Append(Xt.Hex(~Mask));
        else if (Value == Mask) sb.Append(" MARK or ").Append(Xt.Hex(Value));
        else if (Mask == 0) sb.Append(" MARK xor ").Append(Xt.Hex(Value));
        else if (Mask == uint.MaxValue) sb.Append(" MARK set ").Append(Xt.Hex(Value));
        else sb.Append(" MARK xset ").Append(Xt.Hex(Value)).Append('/').Append(Xt.Hex(Mask));
    }
}
