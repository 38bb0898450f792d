using SharpTables.Rules.Extensions.XtOpt;
using System.Text;

namespace SharpTables.Rules.Extensions.Length;

/// <summary><c>-m length</c> (libxt_length / xt_length): the packet's length (IPv4 total length).</summary>
public sealed class LengthExtension : MatchExtension
{
    public override string Name => "length";

    public override IReadOnlyList<OptionDef> Options { get; } =
    [
        new("length", ArgKind.Required, Invertible: true) { Mandatory = true },
    ];

    public override MatchInstance Create() => new LengthMatch(this);
}

public sealed class LengthMatch(LengthExtension ext) : MatchInstance
{
    public override Extension Extension => ext;

    /// <summary>Inclusive bounds; Min &gt; Max is accepted and never matches.</summary>
    public ushort Min { get; private set; }
    public ushort Max { get; private set; }
    public bool Invert { get; private set; }

    public override void Parse(OptionDef option, string? arg, bool invert, RuleContext ctx)
    {
        var v = XtNum.ParseRange("length", option.Name, arg!, ushort.MaxValue);
        Min = (ushort)v[0];
        Max = (ushort)(v.Count >= 2 ? v[1] : v[0]);
        Invert |= invert;
    }

    private void AppendRange(StringBuilder sb)
    {
        sb.Append(Min);
        if (Min != Max) sb.Append(':').Append(Max);
    }

    public override void Save(StringBuilder sb)
    {
        sb.Append(Invert ? " ! --length " : " --length ");
        AppendRange(sb);
    }

    public override void Print(StringBuilder sb, bool numeric)
    {
        sb.Append(" length ").Append(Invert ? "!" : "");
        AppendRange(sb);
    }
}
