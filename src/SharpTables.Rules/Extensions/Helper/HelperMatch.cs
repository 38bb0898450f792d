using System.Text;

namespace SharpTables.Rules.Extensions.Helper;

/// <summary><c>-m helper</c> (libxt_helper / xt_helper): packets of connections a conntrack helper expected.</summary>
public sealed class HelperExtension : MatchExtension
{
    public override string Name => "helper";

    public override IReadOnlyList<OptionDef> Options { get; } =
    [
        new("helper", ArgKind.Required, Invertible: true) { Mandatory = true },
    ];

    public override MatchInstance Create() => new HelperMatch(this);
}

public sealed class HelperMatch(HelperExtension ext) : MatchInstance
{
    /// <summary>struct xt_helper_info keeps 30 bytes including the terminating NUL.</summary>
    public const int MaxBytes = 29;

    public override Extension Extension => ext;

    /// <summary>The helper name as given (cut to 29 bytes); empty matches any helper.</summary>
    public string Name { get; private set; } = "";
    public bool Invert { get; private set; }

    public override void Parse(OptionDef option, string? arg, bool invert, RuleContext ctx)
    {
        Name = XtParsing.TruncateBytes(arg!, MaxBytes);
        Invert = invert;
    }

    public override void Save(StringBuilder sb) =>
        sb.Append(Invert ? " ! --helper " : " --helper ").Append(SaveQuoting.Quote(Name));

    public override void Print(StringBuilder sb, bool numeric) =>
        sb.Append(" helper match ").Append(Invert ? "! " : "").Append('"').Append(Name).Append('"');
}
