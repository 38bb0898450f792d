using SharpTables.Rules.Extensions.XtOpt;
using System.Text;
using SharpTables.Rules.Model;

namespace SharpTables.Rules.Extensions.Icmp;

/// <summary>
/// A list of ICMP type names (libxt_icmp.h's icmp_codes or icmpv6_codes, in its order) and the
/// parser both use (__ipt_parse_icmp), whose messages name the list ("ICMP", "ICMPv6").
/// </summary>
public sealed class IcmpNameTable(string codesName, IReadOnlyList<IcmpTypes.Name> all)
{
    /// <summary>The names in the C table's order (the first match wins when printing).</summary>
    public IReadOnlyList<IcmpTypes.Name> All { get; } = all;

    /// <summary>
    /// A (case-insensitive, abbreviable) name, or <c>type[/code[:code]]</c> with numbers in C
    /// syntax (0-255). A type range <c>a:b</c> parses but is refused.
    /// </summary>
    public (byte Type, byte CodeMin, byte CodeMax) Parse(string text)
    {
        int match = -1;
        for (int i = 0; i < All.Count; i++)
        {
            if (!All[i].Text.StartsWith(text, StringComparison.OrdinalIgnoreCase)) continue;
            if (match >= 0)
                throw Xt.Param($"Ambiguous {codesName} type `{text}': `{All[match].Text}' or `{All[i].Text}'?");
            match = i;
        }
        if (match >= 0) return (All[match].Type, All[match].CodeMin, All[match].CodeMax);

        int next = ParseRange(text, 0, out uint t0, out uint t1);
        if (next < 0) throw Xt.Param($"Unknown {codesName} type `{text}'");
        uint c0 = 0, c1 = 0xFF;
        if (next < text.Length)
        {
            if (text[next] != '/') throw Xt.Param($"unknown character {text[next]}");
            next = ParseRange(text, next + 1, out c0, out c1);
            if (next < 0) throw Xt.Param($"Unknown {codesName} code `{text}'");
            if (next < text.Length) throw Xt.Param($"unknown character {text[next]}");
        }
        if (t0 != t1) throw Xt.Param($"{codesName} type range not supported");
        return ((byte)t0, (byte)c0, (byte)c1);
    }

    /// <summary>libxt_icmp.h parse_range: <c>n[:m]</c>, each 0-255; returns the index after it or -1.</summary>
    private static int ParseRange(string s, int start, out uint lo, out uint hi)
    {
        lo = hi = 0;
        if (!XtNum.StrToUL(s, start, out ulong v, out int end, 0, 255)) return -1;
        lo = hi = (uint)v;
        if (end < s.Length && s[end] == ':')
        {
            if (!XtNum.StrToUL(s, end + 1, out v, out end, 0, 255)) return -1;
            hi = (uint)v;
        }
        return end;
    }

    /// <summary>The first name for exactly this type and code range, if any.</summary>
    public string? NameOf(byte type, byte codeMin, byte codeMax)
    {
        foreach (var n in All)
            if (n.Type == type && n.CodeMin == codeMin && n.CodeMax == codeMax) return n.Text;
        return null;
    }
}

/// <summary>The ICMP and ICMPv6 type names iptables and ip6tables know.</summary>
public static class IcmpTypes
{
    /// <summary>One name: the type and the code range it stands for.</summary>
    public readonly record struct Name(string Text, byte Type, byte CodeMin, byte CodeMax);

    /// <summary>libxt_icmp.h's icmp_codes.</summary>
    public static readonly IcmpNameTable V4 = new("ICMP",
    [
        new("any", 0xFF, 0, 0xFF),
        new("echo-reply", 0, 0, 0xFF),
        new("pong", 0, 0, 0xFF),
        new("destination-unreachable", 3, 0, 0xFF),
        new("network-unreachable", 3, 0, 0),
        new("host-unreachable", 3, 1, 1),
        new("protocol-unreachable", 3, 2, 2),
        new("port-unreachable", 3, 3, 3),
        new("fragmentation-needed", 3, 4, 4),
        new("source-route-failed", 3, 5, 5),
        new("network-unknown", 3, 6, 6),
        new("host-unknown", 3, 7, 7),
        new("network-prohibited", 3, 9, 9),
        new("host-prohibited", 3, 10, 10),
        new("TOS-network-unreachable", 3, 11, 11),
        new("TOS-host-unreachable", 3, 12, 12),
        new("communication-prohibited", 3, 13, 13),
        new("host-precedence-violation", 3, 14, 14),
        new("precedence-cutoff", 3, 15, 15),
        new("source-quench", 4, 0, 0xFF),
        new("redirect", 5, 0, 0xFF),
        new("network-redirect", 5, 0, 0),
        new("host-redirect", 5, 1, 1),
        new("TOS-network-redirect", 5, 2, 2),
        new("TOS-host-redirect", 5, 3, 3),
        new("echo-request", 8, 0, 0xFF),
        new("ping", 8, 0, 0xFF),
        new("router-advertisement", 9, 0, 0xFF),
        new("router-solicitation", 10, 0, 0xFF),
        new("time-exceeded", 11, 0, 0xFF),
        new("ttl-exceeded", 11, 0, 0xFF),
        new("ttl-zero-during-transit", 11, 0, 0),
        new("ttl-zero-during-reassembly", 11, 1, 1),
        new("parameter-problem", 12, 0, 0xFF),
        new("ip-header-bad", 12, 0, 0),
        new("required-option-missing", 12, 1, 1),
        new("timestamp-request", 13, 0, 0xFF),
        new("timestamp-reply", 14, 0, 0xFF),
        new("address-mask-request", 17, 0, 0xFF),
        new("address-mask-reply", 18, 0, 0xFF),
    ]);

    /// <summary>libxt_icmp.h's icmpv6_codes.</summary>
    public static readonly IcmpNameTable V6 = new("ICMPv6",
    [
        new("destination-unreachable", 1, 0, 0xFF),
        new("no-route", 1, 0, 0),
        new("communication-prohibited", 1, 1, 1),
        new("beyond-scope", 1, 2, 2),
        new("address-unreachable", 1, 3, 3),
        new("port-unreachable", 1, 4, 4),
        new("failed-policy", 1, 5, 5),
        new("reject-route", 1, 6, 6),
        new("packet-too-big", 2, 0, 0xFF),
        new("time-exceeded", 3, 0, 0xFF),
        new("ttl-exceeded", 3, 0, 0xFF),
        new("ttl-zero-during-transit", 3, 0, 0),
        new("ttl-zero-during-reassembly", 3, 1, 1),
        new("parameter-problem", 4, 0, 0xFF),
        new("bad-header", 4, 0, 0),
        new("unknown-header-type", 4, 1, 1),
        new("unknown-option", 4, 2, 2),
        new("echo-request", 128, 0, 0xFF),
        new("ping", 128, 0, 0xFF),
        new("echo-reply", 129, 0, 0xFF),
        new("pong", 129, 0, 0xFF),
        new("router-solicitation", 133, 0, 0xFF),
        new("router-advertisement", 134, 0, 0xFF),
        new("neighbour-solicitation", 135, 0, 0xFF),
        new("neighbor-solicitation", 135, 0, 0xFF),
        new("neighbour-advertisement", 136, 0, 0xFF),
        new("neighbor-advertisement", 136, 0, 0xFF),
        new("redirect", 137, 0, 0xFF),
    ]);

    /// <summary>The IPv4 names.</summary>
    public static IReadOnlyList<Name> All => V4.All;

    /// <summary>ipt_parse_icmp (IPv4).</summary>
    public static (byte Type, byte CodeMin, byte CodeMax) Parse(string text) => V4.Parse(text);

    /// <summary>The first IPv4 name for exactly this type and code range, if any.</summary>
    public static string? NameOf(byte type, byte codeMin, byte codeMax) => V4.NameOf(type, codeMin, codeMax);
}

/// <summary><c>-m icmp</c> (libipt_icmp / xt_icmp): ICMP type and code range.</summary>
public sealed class IcmpExtension : MatchExtension
{
    public override string Name => "icmp";

    public override bool Supports(Family family) => family == Family.IPv4;

    public override IReadOnlyList<OptionDef> Options { get; } =
    [
        new("icmp-type", ArgKind.Required, Invertible: true) { Mandatory = true },
    ];

    public override MatchInstance Create() => new IcmpMatch(this);
}

public sealed class IcmpMatch(IcmpExtension ext) : MatchInstance
{
    public override Extension Extension => ext;

    /// <summary>ICMP type; 255 matches every type (the "any" convention of xt_icmp).</summary>
    public byte Type { get; private set; } = 0xFF;
    public byte CodeMin { get; private set; }
    public byte CodeMax { get; private set; } = 0xFF;
    public bool Invert { get; private set; }

    public override void Parse(OptionDef option, string? arg, bool invert, RuleContext ctx)
    {
        (Type, CodeMin, CodeMax) = IcmpTypes.Parse(arg!);
        Invert |= invert;
    }

    /// <summary>xt_icmp is registered for protocol ICMP: the rule needs <c>-p icmp</c>, not inverted.</summary>
    public override string? CheckEntry(KernelCheckContext ctx) =>
        ctx.Header.Protocol != 1 || ctx.Header.InvertProtocol ? "Invalid argument" : null;

    public override void Save(StringBuilder sb)
    {
        if (Invert) sb.Append(" !");
        if (Type == 0xFF)
        {
            sb.Append(" --icmp-type any");
            return;
        }
        sb.Append(" --icmp-type ").Append(Type);
        // only the lower code is written, so a code range a:b saves (and restores) as a
        if (CodeMin != 0 || CodeMax != 0xFF) sb.Append('/').Append(CodeMin);
    }

    public override void Print(StringBuilder sb, bool numeric)
    {
        sb.Append(" icmp");
        if (!numeric && IcmpTypes.NameOf(Type, CodeMin, CodeMax) is { } name)
        {
            sb.Append(' ').Append(Invert ? "!" : "").Append(name);
            return;
        }
        // iptables 1.8.9 prints no space before "type" here ("icmptype 5", "icmp !type 5")
        if (Invert) sb.Append(" !");
        sb.Append("type ").Append(Type);
        if (CodeMin == CodeMax) sb.Append(" code ").Append(CodeMin);
        else if (CodeMin != 0 || CodeMax != 0xFF) sb.Append(" codes ").Append(CodeMin).Append('-').Append(CodeMax);
    }
}
