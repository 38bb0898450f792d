using System.Text;
using SharpTables.Rules.Extensions.Ttl;
using SharpTables.Rules.Extensions.XtOpt;
using SharpTables.Rules.Model;

namespace SharpTables.Rules.Extensions.Hl;

/// <summary><c>-m hl</c> (libip6t_hl / xt_hl): compares the IPv6 hop limit (IP6T_HL_EQ/NE/LT/GT, as <see cref="TtlMode"/>).</summary>
public sealed class HlExtension : XtOptMatchExtension
{
    public override string Name => "hl";

    public override bool Supports(Family family) => family == Family.IPv6;

    internal const int OEq = 0, OLt = 1, OGt = 2;
    private const uint Any = 1 << OEq | 1 << OLt | 1 << OGt;

    // libip6t_hl's table order, which decides the wording of the exclusion error.
    public override IReadOnlyList<XtEntry> Entries { get; } =
    [
        new("hl-lt", OLt) { Excl = Any },
        new("hl-gt", OGt) { Excl = Any },
        new("hl-eq", OEq) { Excl = Any, Invert = true },
        new("hl", OEq) { Excl = Any },
    ];

    public override MatchInstance Create() => new HlMatch(this);
}

public sealed class HlMatch(HlExtension ext) : XtOptMatch
{
    public override Extension Extension => ext;

    /// <summary>The comparison (==, !=, &lt; or &gt;).</summary>
    public TtlMode Mode { get; private set; }
    /// <summary>The hop limit compared with.</summary>
    public byte Value { get; private set; }

    protected override void ParseEntry(XtEntry entry, string arg, bool invert, RuleContext ctx)
    {
        Value = (byte)XtInt.Parse("hl", entry.Name, arg, 0, 255);
        Mode = entry.Id switch
        {
            HlExtension.OLt => TtlMode.Less,
            HlExtension.OGt => TtlMode.Greater,
            _ => invert ? TtlMode.NotEqual : TtlMode.Equal,
        };
    }

    protected override void Check(RuleContext ctx)
    {
        if (XFlags == 0)
            throw Xt.Param("HL match: You must specify one of `--hl-eq', `--hl-lt', `--hl-gt'");
    }

    public override void Save(StringBuilder sb)
    {
        sb.Append(Mode switch
        {
            TtlMode.Equal => " --hl-eq ",
            TtlMode.NotEqual => " ! --hl-eq ",
            TtlMode.Less => " --hl-lt ",
            _ => " --hl-gt ",
        });
        sb.Append(Value);
    }

    public override void Print(StringBuilder sb, bool numeric)
    {
        sb.Append(" HL match HL ").Append(Mode switch
        {
            TtlMode.Equal => "==",
            TtlMode.NotEqual => "!=",
            TtlMode.Less => "<",
            _ => ">",
        });
        sb.Append(' ').Append(Value);
    }
}
