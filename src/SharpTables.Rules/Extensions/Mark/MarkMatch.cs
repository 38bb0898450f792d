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

    public override IReadOnlyList<XtEntry> Entries { get; } = MarkValueMatch.Options;

    public override MatchInstance Create() => new MarkMatch(this);
}

/// <summary>The packet matches when (skb mark &amp; Mask) == Value (unless inverted).</summary>
public sealed class MarkMatch(MarkExtension ext) : MarkValueMatch(ext)
{
    // libxt_mark prints "mark match ! 0x1": the inversion stands apart.
    protected override void PrintPrefix(StringBuilder sb) => sb.Append(" mark match").Append(Invert ? " !" : "");
}

/// <summary>
/// The shared shape of <c>-m mark</c> and <c>-m connmark</c>: one mandatory, invertible
/// <c>--mark value[/mask]</c>, saved as <c>--mark 0xV/0xM</c>. Subclasses differ in which mark they
/// test and in their -L wording.
/// </summary>
public abstract class MarkValueMatch(Extension ext) : XtOptMatch
{
    public static readonly IReadOnlyList<XtEntry> Options = [new("mark", 0) { Invert = true, Mandatory = true }];

    public override Extension Extension => ext;

    public uint Value { get; private set; }
    public uint Mask { get; private set; } = uint.MaxValue;
    public bool Invert { get; private set; }

    protected override void ParseEntry(XtEntry entry, string arg, bool invert, RuleContext ctx)
    {
        (Value, Mask) = XtNum.ParseMarkMask(ext.Name, entry.Name, arg);
        Invert = invert;
    }

    public override void Save(StringBuilder sb)
    {
        if (Invert) sb.Append(" !");
        sb.Append(" --mark");
        XtNum.AppendMarkMask(sb, Value, Mask);
    }

    protected abstract void PrintPrefix(StringBuilder sb);

    public override void Print(StringBuilder sb, bool numeric)
    {
        PrintPrefix(sb);
        XtNum.AppendMarkMask(sb, Value, Mask);
    }
}
