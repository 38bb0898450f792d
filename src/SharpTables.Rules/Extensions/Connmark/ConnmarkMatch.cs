using System.Text;
using SharpTables.Rules.Extensions.XtOpt;
using SharpTables.Rules.Model;

namespace SharpTables.Rules.Extensions.Connmark;

/// <summary><c>-m connmark</c> (libxt_connmark revision 1 / xt_connmark_mtinfo1): the connection's mark.</summary>
public sealed class ConnmarkExtension : XtOptMatchExtension
{
    public override string Name => "connmark";

    public override IReadOnlyList<XtEntry> Entries { get; } =
    [
        new("mark", 0) { Invert = true, Mandatory = true },
    ];

    public override MatchInstance Create() => new ConnmarkMatch(this);
}

public sealed class ConnmarkMatch(ConnmarkExtension ext) : XtOptMatch
{
    public override Extension Extension => ext;

    /// <summary>The packet matches when (ct mark &amp; <see cref="Mask"/>) == <see cref="Value"/> (unless inverted).</summary>
    public uint Value { get; private set; }
    public uint Mask { get; private set; } = uint.MaxValue;
    public bool Invert { get; private set; }

    protected override void ParseEntry(XtEntry entry, string arg, bool invert, RuleContext ctx)
    {
        (Value, Mask) = XtNum.ParseMarkMask("connmark", entry.Name, arg);
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
        sb.Append(" connmark match ");
        if (Invert) sb.Append('!');
        XtNum.AppendMarkMask(sb, Value, Mask);
    }
}
