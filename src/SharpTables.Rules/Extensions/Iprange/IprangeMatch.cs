using System.Text;
using SharpTables.Packets;
using SharpTables.Rules.Model;

namespace SharpTables.Rules.Extensions.Iprange;

/// <summary><c>-m iprange</c> revision 1 (libxt_iprange / xt_iprange): inclusive address ranges.</summary>
public sealed class IprangeExtension : MatchExtension
{
    public override string Name => "iprange";

    public override IReadOnlyList<OptionDef> Options { get; } =
    [
        new("src-range", ArgKind.Required, Invertible: true),
        new("dst-range", ArgKind.Required, Invertible: true),
    ];

    public override MatchInstance Create() => new IprangeMatch(this);
}

public sealed class IprangeMatch(IprangeExtension ext) : MatchInstance
{
    public override Extension Extension => ext;

    /// <summary>Whether a source range is tested, and the range (host order, inclusive).</summary>
    public bool HasSource { get; private set; }
    public uint SourceMin { get; private set; }
    public uint SourceMax { get; private set; }
    public bool InvertSource { get; private set; }
    public bool HasDest { get; private set; }
    public uint DestMin { get; private set; }
    public uint DestMax { get; private set; }
    public bool InvertDest { get; private set; }

    public override void Parse(OptionDef option, string? arg, bool invert, RuleContext ctx)
    {
        var (min, max) = ParseRange(arg!, "--" + option.Name);
        if (option.Name == "src-range")
        {
            (HasSource, SourceMin, SourceMax) = (true, min, max);
            InvertSource |= invert;
        }
        else
        {
            (HasDest, DestMin, DestMax) = (true, min, max);
            InvertDest |= invert;
        }
    }

    /// <summary>iprange_parse_range: <c>ip[-ip]</c>, numeric addresses only; warns when reversed.</summary>
    private static (uint, uint) ParseRange(string arg, string optName)
    {
        int dash = arg.IndexOf('-');
        string from = dash < 0 ? arg : arg[..dash], to = dash < 0 ? arg : arg[(dash + 1)..];
        uint lo = Address(from, optName), hi = Address(to, optName);
        if (dash >= 0 && lo > hi)
            Xt.Warn($"xt_iprange: range {from}-{to} is reversed and will never match");
        return (lo, hi);
    }

    private static uint Address(string text, string optName) =>
        Ipv4.TryParse(text, out uint a) ? a : throw Xt.Param($"iprange: Bad value for \"{optName}\" option: \"{text}\"");

    public override void FinalCheck(RuleContext ctx)
    {
        if (SeenCount == 0) throw Xt.Param("iprange match: You must specify `--src-range' or `--dst-range'");
    }

    public override void Save(StringBuilder sb)
    {
        if (HasSource)
        {
            if (InvertSource) sb.Append(" !");
            sb.Append(" --src-range ").Append(Ipv4.Format(SourceMin)).Append('-').Append(Ipv4.Format(SourceMax));
        }
        if (HasDest)
        {
            if (InvertDest) sb.Append(" !");
            sb.Append(" --dst-range ").Append(Ipv4.Format(DestMin)).Append('-').Append(Ipv4.Format(DestMax));
        }
    }

    public override void Print(StringBuilder sb, bool numeric)
    {
        if (HasSource)
        {
            sb.Append(" source IP range");
            if (InvertSource) sb.Append(" !");
            sb.Append(' ').Append(Ipv4.Format(SourceMin)).Append('-').Append(Ipv4.Format(SourceMax));
        }
        if (HasDest)
        {
            sb.Append(" destination IP range");
            if (InvertDest) sb.Append(" !");
            sb.Append(' ').Append(Ipv4.Format(DestMin)).Append('-').Append(Ipv4.Format(DestMax));
        }
    }
}
