using System.Text;
using SharpTables.Rules.Extensions.Icmp;
using SharpTables.Rules.Model;

namespace SharpTables.Rules.Extensions.Icmp6;

/// <summary>
/// <c>-m icmp6</c> (libip6t_icmp6 / ip6_tables' icmp6 match): ICMPv6 type and code range. xtables
/// also loads it for <c>-m icmpv6</c>, <c>-m ipv6-icmp</c> and as the protocol match of
/// <c>-p icmpv6</c>/<c>-p ipv6-icmp</c>/<c>-p 58</c>; it is saved as <c>-m icmp6</c>.
/// </summary>
public sealed class Icmp6Extension : MatchExtension
{
    public override string Name => "icmp6";

    public override bool Supports(Family family) => family == Family.IPv6;

    public override IReadOnlyList<OptionDef> Options { get; } =
    [
        new("icmpv6-type", ArgKind.Required, Invertible: true) { Mandatory = true },
    ];

    public override MatchInstance Create() => new Icmp6Match(this);
}

public sealed class Icmp6Match(Icmp6Extension ext) : MatchInstance
{
    public override Extension Extension => ext;

    /// <summary>ICMPv6 type (every value is a real type: there is no "any").</summary>
    public byte Type { get; private set; }
    /// <summary>The code range (inclusive); 0-255 unless a code or a name with a code was given.</summary>
    public byte CodeMin { get; private set; }
    public byte CodeMax { get; private set; } = 0xFF;
    /// <summary><c>! --icmpv6-type</c>: the match is inverted.</summary>
    public bool Invert { get; private set; }

    public override void Parse(OptionDef option, string? arg, bool invert, RuleContext ctx)
    {
        (Type, CodeMin, CodeMax) = IcmpTypes.V6.Parse(arg!);
        Invert |= invert;
    }

    /// <summary>The icmp6 match is registered for protocol ICMPv6: the rule needs <c>-p ipv6-icmp</c>, not inverted.</summary>
    public override string? CheckEntry(KernelCheckContext ctx) =>
        ctx.Header.Protocol != 58 || ctx.Header.InvertProtocol ? "Invalid argument" : null;

    public override void Save(StringBuilder sb)
    {
        if (Invert) sb.Append(" !");
        sb.Append(" --icmpv6-type ").Append(Type);
        // only the lower code is written, so a code range a:b saves (and restores) as a
        if (CodeMin != 0 || CodeMax != 0xFF) sb.Append('/').Append(CodeMin);
    }

    public override void Print(StringBuilder sb, bool numeric)
    {
        sb.Append(" ipv6-icmp");
        if (!numeric && IcmpTypes.V6.NameOf(Type, CodeMin, CodeMax) is { } name)
        {
            sb.Append(' ').Append(Invert ? "!" : "").Append(name);
            return;
        }
        // print_icmpv6type writes no space before "type" ("ipv6-icmptype 128", "ipv6-icmp !type 1")
        if (Invert) sb.Append(" !");
        sb.Append("type ").Append(Type);
        if (CodeMin == CodeMax) sb.Append(" code ").Append(CodeMin);
        else if (CodeMin != 0 || CodeMax != 0xFF) sb.Append(" codes ").Append(CodeMin).Append('-').Append(CodeMax);
    }
}
