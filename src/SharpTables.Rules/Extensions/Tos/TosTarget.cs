using System.Text;
using SharpTables.Rules.Extensions.XtOpt;

namespace SharpTables.Rules.Extensions.Tos;

/// <summary>
/// <c>-j TOS</c> revision 1 (libxt_TOS / xt_DSCP's tos_tg): every form is one operation on the
/// TOS byte, <c>tos = (tos AND NOT Mask) XOR Value</c>; save always writes it as
/// <c>--set-tos Value/Mask</c>.
/// </summary>
public sealed class TosTargetExtension : TargetExtension
{
    public override string Name => "TOS";

    public override IReadOnlyList<OptionDef> Options { get; } =
    [
        new("set-tos"),
        new("and-tos"),
        new("or-tos"),
        new("xor-tos"),
    ];

    public override TargetInstance Create() => new TosTarget(this);
}

public sealed class TosTarget(TosTargetExtension ext) : TargetInstance
{
    private const int OSetTos = 0, OAndTos = 1, OOrTos = 2, OXorTos = 3;
    private const uint AnyOp = (1u << OSetTos) | (1u << OAndTos) | (1u << OOrTos) | (1u << OXorTos);

    private static readonly XtOptRow[] s_table =
    [
        new("set-tos", OSetTos, Excl: AnyOp),
        new("and-tos", OAndTos, Excl: AnyOp),
        new("or-tos", OOrTos, Excl: AnyOp),
        new("xor-tos", OXorTos, Excl: AnyOp),
    ];

    private uint _flags;

    public override Extension Extension => ext;

    /// <summary>Bits XORed into the TOS byte after the <see cref="Mask"/> bits are cleared.</summary>
    public byte Value { get; private set; }

    /// <summary>Bits of the TOS byte cleared first.</summary>
    public byte Mask { get; private set; }

    /// <summary>The new TOS byte for a packet whose TOS byte is <paramref name="tos"/>.</summary>
    public byte Apply(byte tos) => (byte)((tos & ~Mask) ^ Value);

    public override void Parse(OptionDef option, string? arg, bool invert, RuleContext ctx)
    {
        switch (option.Name)
        {
            case "set-tos":
                // A symbolic name comes with the option's maximum as its mask (0x3f): it
                // replaces the low six bits and keeps the two top precedence bits.
                (Value, Mask) = XtOptChecks.ParseTosMask(arg ?? "", 0x3F);
                _flags |= 1u << OSetTos;
                break;
            case "and-tos":
                Value = 0;
                Mask = (byte)~U8(option, arg);
                _flags |= 1u << OAndTos;
                break;
            case "or-tos":
                Value = Mask = U8(option, arg);
                _flags |= 1u << OOrTos;
                break;
            case "xor-tos":
                Value = U8(option, arg);
                Mask = 0;
                _flags |= 1u << OXorTos;
                break;
        }
    }

    private static byte U8(OptionDef option, string? arg) => (byte)XtInt.Parse("TOS", option.Name, arg, 0, byte.MaxValue);

    public override void FinalCheck(RuleContext ctx)
    {
        if ((_flags & AnyOp) == 0) throw Xt.Param("TOS: An action is required");
        XtOptionTable.CheckCombinations("TOS", s_table, _flags);
    }

    /// <summary>xt_DSCP registers the TOS targets for the mangle table only.</summary>
    public override string? CheckEntry(KernelCheckContext ctx) => ctx.Table != "mangle" ? "Invalid argument" : null;

    public override void Save(StringBuilder sb) =>
        sb.Append(" --set-tos 0x").Append(Value.ToString("x2")).Append("/0x").Append(Mask.ToString("x2"));

    public override void Print(StringBuilder sb, bool numeric)
    {
        if (numeric)
            sb.Append(" TOS set 0x").Append(Value.ToString("x2")).Append("/0x").Append(Mask.ToString("x2"));
        // tos_try_print_symbolic prints " %s%s" with the prefix " TOS set": two spaces, none before the name.
        else if (XtOptChecks.TosSymbol(Value, Mask) is { } name) sb.Append("  TOS set").Append(name);
        else if (Value == 0) sb.Append(" TOS and 0x").Append(((byte)~Mask).ToString("x2"));
        else if (Value == Mask) sb.Append(" TOS or 0x").Append(Value.ToString("x2"));
        else if (Mask == 0) sb.Append(" TOS xor 0x").Append(Value.ToString("x2"));
        else sb.Append(" TOS set 0x").Append(Value.ToString("x2")).Append("/0x").Append(Mask.ToString("x2"));
    }
}
