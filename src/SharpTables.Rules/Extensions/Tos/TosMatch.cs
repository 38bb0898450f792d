using System.Text;

namespace SharpTables.Rules.Extensions.Tos;

/// <summary><c>-m tos</c> revision 1 (libxt_tos / xt_dscp's tos_mt): (TOS &amp; mask) == value.</summary>
public sealed class TosExtension : MatchExtension
{
    public override string Name => "tos";

    public override IReadOnlyList<OptionDef> Options { get; } =
    [
        new("tos", ArgKind.Required, Invertible: true) { Mandatory = true },
    ];

    public override MatchInstance Create() => new TosMatch(this);
}

public sealed class TosMatch(TosExtension ext) : MatchInstance
{
    public override Extension Extension => ext;

    public byte Value { get; private set; }
    public byte Mask { get; private set; }
    public bool Invert { get; private set; }

    public override void Parse(OptionDef option, string? arg, bool invert, RuleContext ctx)
    {
        (Value, Mask) = XtOptChecks.ParseTosMask(arg!, 0x3F);
        Invert |= invert;
    }

    public override void Save(StringBuilder sb)
    {
        if (Invert) sb.Append(" !");
        sb.Append(" --tos 0x").Append(Value.ToString("x2")).Append("/0x").Append(Mask.ToString("x2"));
    }

    public override void Print(StringBuilder sb, bool numeric)
    {
        // iptables 1.8.9 prints no space before a numeric value ("tos match0x0f/0xff")
        sb.Append(" tos match");
        if (Invert) sb.Append('!');
        if (!numeric && XtOptChecks.TosSymbol(Value, Mask) is { } name) sb.Append(' ').Append(name);
        else sb.Append("0x").Append(Value.ToString("x2")).Append("/0x").Append(Mask.ToString("x2"));
    }
}
