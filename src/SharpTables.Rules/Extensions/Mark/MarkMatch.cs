using System.Text;
using SharpTables.Rules.Extensions.XtOpt;
using SharpTables.Rules.Model;

namespace SharpTables.Rules.Extensions.Mark;

/// <summary>
/// <c>-m mark</c> (libxt_mark revision 1). iptables-nft expresses it natively
/// (<c>meta mark &amp; MASK == VALUE</c>) and reads that back as the same match.
/// </summary>
public sealed class MarkExtension : XtOptMatchExtension
{
    public override string Name => "mark";

    public override IReadOnlyList<XtEntry> Entries { get; } =
    [
        new("mark", 0) { Invert = true, Mandatory = true },
    ];

    public override MatchInstance Create() => new MarkMatch(this);
}

public sealed class MarkMatch(MarkExtension ext) : XtOptMatch
{
    public override Extension Extension => ext;

    /// <summary>The packet matches when (skb mark &amp; <see cref="Mask"/>) == <see cref="Value"/> (unless inverted).</summary>
    public uint Value { get; private set; }
    public uint Mask { get; private set; } = uint.MaxValue;
    public bool Invert { get; private set; }

    protected override void ParseEntry(XtEntry entry, string arg, bool invert, RuleContext ctx)
    {
        (Value, Mask) = XtNum.ParseMarkMask("mark", entry.Name, arg);
        Invert = invert;
    }

    public override void Save(StringBuilder sb)
    {
        if (Invert) sb.Append(" !");
        sb.Append(" --mark");
        XtNum.AppendMarkMask(sb, Value, Mask);
    }

    public override void Print(StringBuilder sb, bool numeric)
    {
        sb.Append(" mark match");
        if (Invert) sb.Append(" !");
        XtNum.AppendMarkMask(sb, Value, Mask);
    }
}
