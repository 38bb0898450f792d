using System.Text;
using SharpTables.Rules.Extensions.Mark;
using SharpTables.Rules.Extensions.XtOpt;

namespace SharpTables.Rules.Extensions.Connmark;

/// <summary><c>-m connmark</c> (libxt_connmark revision 1 / xt_connmark_mtinfo1): the connection's mark.</summary>
public sealed class ConnmarkExtension : XtOptMatchExtension
{
    public override string Name => "connmark";

    public override IReadOnlyList<XtEntry> Entries { get; } = MarkValueMatch.Options;

    public override MatchInstance Create() => new ConnmarkMatch(this);
}

/// <summary>The packet matches when (ct mark &amp; Mask) == Value (unless inverted).</summary>
public sealed class ConnmarkMatch(ConnmarkExtension ext) : MarkValueMatch(ext)
{
    // libxt_connmark prints "connmark match  0x1" (two spaces) and "connmark match !0x1".
    protected override void PrintPrefix(StringBuilder sb) => sb.Append(" connmark match ").Append(Invert ? "!" : "");
}
