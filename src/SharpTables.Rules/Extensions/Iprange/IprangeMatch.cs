using System.Text;
using SharpTables.Packets;
using SharpTables.Rules.Model;
using SharpTables.Rules.Parsing;

namespace SharpTables.Rules.Extensions.Iprange;

/// <summary><c>-m iprange</c> revision 1 (libxt_iprange / xt_iprange): inclusive address ranges of either family.</summary>
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

    /// <summary>Whether a source range is tested, and the range (inclusive).</summary>
    public bool HasSource { get; private set; }
    /// <summary>The range at full width: IPv6 addresses, or IPv4 ones in the low 32 bits.</summary>
    public UInt128 SourceMin128 { get; private set; }
    public UInt128 SourceMax128 { get; private set; }
    /// <summary>The IPv4 range (host order).</summary>
    public uint SourceMin => (uint)SourceMin128;
    public uint SourceMax => (uint)SourceMax128;
    public bool InvertSource { get; private set; }
    public bool HasDest { get; private set; }
    public UInt128 DestMin128 { get; private set; }
    public UInt128 DestMax128 { get; private set; }
    public uint DestMin => (uint)DestMin128;
    public uint DestMax => (uint)DestMax128;
    public bool InvertDest { get; private set; }

    public override void Parse(OptionDef option, string? arg, bool invert, RuleContext ctx)
    {
        var (min, max) = ParseRange(arg!, "--" + option.Name);
        if (option.Name == "src-range")
        {
            (HasSource, SourceMin128, SourceMax128) = (true, min, max);
            InvertSource |= invert;
        }
        else
        {
            (HasDest, DestMin128, DestMax128) = (true, min, max);
            InvertDest |= invert;
        }
    }

    /// <summary>iprange_parse_range: <c>ip[-ip]</c>, numeric addresses only; warns when reversed.</summary>
    private (UInt128, UInt128) ParseRange(string arg, string optName)
    {
        int dash = arg.IndexOf('-');
        string from = dash < 0 ? arg : arg[..dash], to = dash < 0 ? arg : arg[(dash + 1)..];
        UInt128 lo = Address(from, optName), hi = Address(to, optName);
        if (dash >= 0 && lo > hi)
            Xt.Warn($"xt_iprange: range {from}-{to} is reversed and will never match");
        return (lo, hi);
    }

    /// <summary>xtables_numeric_to_ipaddr (IPv4) or inet_pton (IPv6).</summary>
    private UInt128 Address(string text, string optName)
    {
        if (Family == Family.IPv6 ? Ipv6Text.TryParse(text, out var a6) : TryIpv4(text, out a6)) return a6;
        throw Xt.Param($"iprange: Bad value for \"{optName}\" option: \"{text}\"");
    }

    private static bool TryIpv4(string text, out UInt128 address)
    {
        bool ok = Ipv4.TryParse(text, out uint a);
        address = a;
        return ok;
    }

    public override void FinalCheck(RuleContext ctx)
    {
        if (SeenCount == 0) throw Xt.Param("iprange match: You must specify `--src-range' or `--dst-range'");
    }

    private string Text(UInt128 a) => InetText.Format(Family, a);

    public override void Save(StringBuilder sb)
    {
        if (HasSource)
        {
            if (InvertSource) sb.Append(" !");
            sb.Append(" --src-range ").Append(Text(SourceMin128)).Append('-').Append(Text(SourceMax128));
        }
        if (HasDest)
        {
            if (InvertDest) sb.Append(" !");
            sb.Append(" --dst-range ").Append(Text(DestMin128)).Append('-').Append(Text(DestMax128));
        }
    }

    public override void Print(StringBuilder sb, bool numeric)
    {
        if (HasSource)
        {
            sb.Append(" source IP range");
            if (InvertSource) sb.Append(" !");
            sb.Append(' ').Append(Text(SourceMin128)).Append('-').Append(Text(SourceMax128));
        }
        if (HasDest)
        {
            sb.Append(" destination IP range");
            if (InvertDest) sb.Append(" !");
            sb.Append(' ').Append(Text(DestMin128)).Append('-').Append(Text(DestMax128));
        }
    }
}
