using System.Text;
using SharpTables.Rules.Model;

namespace SharpTables.Rules.Extensions.Ttl;

/// <summary>The comparison of a ttl match (IPT_TTL_EQ/NE/LT/GT).</summary>
public enum TtlMode : byte { Equal = 0, NotEqual = 1, Less = 2, Greater = 3 }

/// <summary><c>-m ttl</c> (libipt_ttl / xt_hl): compares the IPv4 time to live.</summary>
public sealed class TtlExtension : MatchExtension
{
    public override string Name => "ttl";

    public override bool Supports(Family family) => family == Family.IPv4;

    // libipt_ttl's table order, which decides the wording of the exclusion error.
    public override IReadOnlyList<OptionDef> Options { get; } =
    [
        new("ttl-lt", ArgKind.Required) { Id = "lt" },
        new("ttl-gt", ArgKind.Required) { Id = "gt" },
        new("ttl-eq", ArgKind.Required, Invertible: true) { Id = "eq" },
        new("ttl", ArgKind.Required) { Id = "eq" },
    ];

    public override MatchInstance Create() => new TtlMatch(this);
}

public sealed class TtlMatch(TtlExtension ext) : MatchInstance
{
    public override Extension Extension => ext;

    public TtlMode Mode { get; private set; }
    public byte Value { get; private set; }

    public override void Parse(OptionDef option, string? arg, bool invert, RuleContext ctx)
    {
        Value = (byte)Xt.ParseUInt("ttl", XtOptChecks.EntryName(ext, option), arg, 0, 255);
        Mode = option.Id switch
        {
            "lt" => TtlMode.Less,
            "gt" => TtlMode.Greater,
            _ => invert ? TtlMode.NotEqual : TtlMode.Equal,
        };
    }

    public override void FinalCheck(RuleContext ctx)
    {
        if (SeenCount == 0)
            throw Xt.Param("TTL match: You must specify one of `--ttl-eq', `--ttl-lt', `--ttl-gt");
        bool lt = Seen("lt"), gt = Seen("gt"), eq = Seen("eq");
        if (lt && (eq || gt))
            throw Xt.Param($"ttl: option \"--ttl-lt\" cannot be used together with \"--{(eq ? "ttl-eq" : "ttl-gt")}\".\n");
        if (gt && eq)
            throw Xt.Param("ttl: option \"--ttl-gt\" cannot be used together with \"--ttl-eq\".\n");
    }

    public override void Save(StringBuilder sb)
    {
        sb.Append(Mode switch
        {
            TtlMode.Equal => " --ttl-eq",
            TtlMode.NotEqual => " ! --ttl-eq",
            TtlMode.Less => " --ttl-lt",
            _ => " --ttl-gt",
        });
        sb.Append(' ').Append(Value);
    }

    public override void Print(StringBuilder sb, bool numeric)
    {
        sb.Append(" TTL match ").Append(Mode switch
        {
            TtlMode.Equal => "TTL ==",
            TtlMode.NotEqual => "TTL !=",
            TtlMode.Less => "TTL <",
            _ => "TTL >",
        });
        sb.Append(' ').Append(Value);
    }
}
