using System.Text;
using SharpTables.Rules.Model;
using SharpTables.Rules.Parsing;

namespace SharpTables.Rules.Extensions.Nat;

/// <summary>The kernel's NF_NAT_RANGE_* flags.</summary>
[Flags]
public enum NatRangeFlags : uint
{
    None = 0,
    MapIps = 0x01,
    ProtoSpecified = 0x02,
    ProtoRandom = 0x04,
    Persistent = 0x08,
    ProtoRandomFully = 0x10,
    ProtoOffset = 0x20,
}

/// <summary>
/// What a NAT target maps to (struct nf_nat_range2): an address range, a port range with an
/// optional base port for shifted port maps, and the random/persistent flags. Addresses are kept
/// at full width (IPv6, or host-order IPv4 in the low 32 bits).
/// </summary>
public sealed record NatRange
{
    public NatRangeFlags Flags { get; init; }
    public UInt128 MinAddress128 { get; init; }
    public UInt128 MaxAddress128 { get; init; }
    /// <summary>The IPv4 range (host order).</summary>
    public uint MinAddress => (uint)MinAddress128;
    public uint MaxAddress => (uint)MaxAddress128;
    public ushort MinPort { get; init; }
    public ushort MaxPort { get; init; }
    /// <summary>Start of a shifted port map (<c>a-b/base</c>) when <see cref="NatRangeFlags.ProtoOffset"/> is set.</summary>
    public ushort BasePort { get; init; }

    public bool MapsAddresses => (Flags & NatRangeFlags.MapIps) != 0;
    public bool MapsPorts => (Flags & NatRangeFlags.ProtoSpecified) != 0;

    /// <summary>sprint_range for IPv4.</summary>
    public string Text => Format(Family.IPv4);

    /// <summary>
    /// sprint_range: <c>a[-b]</c>, then <c>:p[-q][/base]</c>; IPv6 addresses are bracketed when
    /// ports follow (<c>[a-b]:p</c>).
    /// </summary>
    public string Format(Family family)
    {
        var sb = new StringBuilder();
        bool brackets = family == Family.IPv6 && MapsPorts;
        if (MapsAddresses)
        {
            if (brackets) sb.Append('[');
            sb.Append(InetText.Format(family, MinAddress128));
            if (MaxAddress128 != MinAddress128) sb.Append('-').Append(InetText.Format(family, MaxAddress128));
            if (brackets) sb.Append(']');
        }
        if (MapsPorts)
        {
            sb.Append(':').Append(MinPort);
            if (MaxPort != MinPort) sb.Append('-').Append(MaxPort);
            if ((Flags & NatRangeFlags.ProtoOffset) != 0) sb.Append('/').Append(BasePort);
        }
        return sb.ToString();
    }
}

/// <summary>The address/port syntax of the NAT targets (libxt_NAT's parse_to and parse_ports).</summary>
public static class NatSyntax
{
    /// <summary>Protocols whose ports NAT can map (ICMP: the query id).</summary>
    public static bool PortsAllowed(ushort protocol) => protocol is 6 or 17 or 132 or 33 or 1;

    /// <summary>parse_ports: <c>port[-port[/base]]</c>; the first port may be a service name.</summary>
    public static NatRange ParsePorts(string arg, bool portsAllowed, NatRange range)
    {
        if (!portsAllowed) throw Xt.Param("Need TCP, UDP, SCTP or DCCP with port specification");
        var flags = range.Flags | NatRangeFlags.ProtoSpecified;

        uint port;
        int end;
        if (XtParsing.StrToUL(arg, 0, 0, ushort.MaxValue, out ulong p, out end))
        {
            port = (uint)p;
        }
        else
        {
            port = (uint)(XtParsing.ServicePort(arg) ?? throw Xt.Param($"Port `{arg}' not valid"));
            end = arg.Length;
        }

        if (end == arg.Length) return range with { Flags = flags, MinPort = (ushort)port, MaxPort = (ushort)port };
        if (arg[end] == ':') throw Xt.Param("Invalid port:port syntax - use dash");
        if (arg[end] != '-') throw Xt.Param($"Garbage after port value: `{arg[end..]}'");

        string rest = arg[(end + 1)..];
        if (!XtParsing.StrToUL(rest, 0, 0, ushort.MaxValue, out ulong maxPort, out end))
            throw Xt.Param($"Port `{rest}' not valid");
        if (maxPort < port) throw Xt.Param($"Port range `{rest}' funky");
        range = range with { Flags = flags, MinPort = (ushort)port, MaxPort = (ushort)maxPort };

        if (end == rest.Length) return range;
        if (rest[end] != '/') throw Xt.Param($"Garbage after port range: `{rest[end..]}'");

        string baseText = rest[(end + 1)..];
        uint basePort;
        if (XtParsing.StrToUL(baseText, 0, 1, ushort.MaxValue, out ulong b, out _)) basePort = (uint)b;
        else basePort = (uint)(XtParsing.ServicePort(baseText) ?? throw Xt.Param($"Port `{baseText}' not valid"));
        return range with { Flags = range.Flags | NatRangeFlags.ProtoOffset, BasePort = (ushort)basePort };
    }

    /// <summary>parse_to: <c>[addr[-addr]][:ports]</c>; IPv6 addresses may be bracketed (<c>[a-b]:ports</c>).</summary>
    public static NatRange ParseTo(string arg, bool portsAllowed, Family family = Family.IPv4)
    {
        var range = new NatRange();
        string addresses;
        int colon;
        int open = arg.IndexOf('[');
        if (open < 0)
        {
            addresses = arg;
            colon = arg.IndexOf(':');
            // More than one colon: taken to be an IPv6 address (with no ports).
            if (colon >= 0 && arg.IndexOf(':', colon + 1) >= 0) colon = -1;
        }
        else
        {
            int close = arg.IndexOf(']', open + 1);
            if (close < 0 || family == Family.IPv4) throw Xt.Param("Invalid address format");
            addresses = arg[(open + 1)..close];
            colon = arg.IndexOf(':', close + 1);
        }
        if (colon >= 0)
        {
            range = ParsePorts(arg[(colon + 1)..], portsAllowed, range);
            // Nothing (or, as the C code counts it, two characters) before the colon: ports only.
            if (colon == 0 || colon == 2) return range;
            if (open < 0) addresses = arg[..colon];
        }
        range = range with { Flags = range.Flags | NatRangeFlags.MapIps };
        int dash = addresses.IndexOf('-');
        string first = dash >= 0 ? addresses[..dash] : addresses;
        if (!TryParseAddress(family, first, out var min)) throw Xt.Param($"Bad IP address \"{first}\"");
        var max = min;
        if (dash >= 0)
        {
            string second = addresses[(dash + 1)..];
            if (!TryParseAddress(family, second, out max)) throw Xt.Param($"Bad IP address \"{second}\"");
        }
        return range with { MinAddress128 = min, MaxAddress128 = max };
    }

    /// <summary>inet_pton of the family.</summary>
    private static bool TryParseAddress(Family family, string s, out UInt128 address)
    {
        if (family == Family.IPv6) return Ipv6Text.TryParse(s, out address);
        bool ok = TryParseDotted(s, out uint a);
        address = a;
        return ok;
    }

    /// <summary>inet_pton(AF_INET): exactly four decimal parts 0-255, no leading zeros.</summary>
    public static bool TryParseDotted(string s, out uint address)
    {
        address = 0;
        var parts = s.Split('.');
        if (parts.Length != 4) return false;
        foreach (var part in parts)
        {
            if (part.Length is 0 or > 3 || !part.All(char.IsAsciiDigit)) return false;
            if (part.Length > 1 && part[0] == '0') return false;
            int v = int.Parse(part);
            if (v > 255) return false;
            address = (address << 8) | (uint)v;
        }
        return true;
    }
}

/// <summary>
/// Shared behaviour of SNAT, DNAT, MASQUERADE and REDIRECT: option handling, the kernel's
/// table and hook restrictions, and the save/-L text (libxt_NAT's __NAT_print).
/// </summary>
public abstract class NatTarget : TargetInstance
{
    /// <summary>The mapping this rule applies.</summary>
    public NatRange Range { get; protected set; } = new();

    public bool Random => (Range.Flags & NatRangeFlags.ProtoRandom) != 0;
    public bool RandomFully => (Range.Flags & NatRangeFlags.ProtoRandomFully) != 0;
    public bool Persistent => (Range.Flags & NatRangeFlags.Persistent) != 0;

    /// <summary>Hooks the kernel allows the target in (all within the nat table).</summary>
    protected abstract HookMask AllowedHooks { get; }

    /// <summary>The -L text before the range ("to:", "masq ports: ", ...).</summary>
    protected abstract string PrintPrefix { get; }

    /// <summary>The save option before the range ("--to-source ", "--to-ports ", ...).</summary>
    protected abstract string SavePrefix { get; }

    /// <summary>
    /// Whether the kernel structure keeps a shifted port map's base port. Only DNAT (revision 2)
    /// does; the others use the old multi-range structure, which keeps the flag but not the port.
    /// </summary>
    protected virtual bool KeepsBasePort => false;

    /// <summary>Whether only ports are given (MASQUERADE, REDIRECT), so save drops the leading ':'.</summary>
    protected virtual bool PortsOnly => false;

    public override void Parse(OptionDef option, string? arg, bool invert, RuleContext ctx)
    {
        bool portsAllowed = NatSyntax.PortsAllowed(ctx.Protocol);
        switch (option.Name)
        {
            case "to-source":
            case "to-destination":
            {
                var parsed = NatSyntax.ParseTo(arg!, portsAllowed, Family);
                Range = Keep(parsed with { Flags = parsed.Flags | Range.Flags });
                break;
            }
            case "to-ports":
            {
                var parsed = NatSyntax.ParsePorts(arg!, portsAllowed, new NatRange());
                Range = Keep(Range with
                {
                    Flags = Range.Flags | parsed.Flags,
                    MinPort = parsed.MinPort, MaxPort = parsed.MaxPort, BasePort = parsed.BasePort,
                });
                break;
            }
            case "random": Range = Range with { Flags = Range.Flags | NatRangeFlags.ProtoRandom }; break;
            case "random-fully": Range = Range with { Flags = Range.Flags | NatRangeFlags.ProtoRandomFully }; break;
            case "persistent": Range = Range with { Flags = Range.Flags | NatRangeFlags.Persistent }; break;
        }
    }

    private NatRange Keep(NatRange r) => KeepsBasePort ? r : r with { BasePort = 0 };

    /// <summary>xt_nat / xt_MASQUERADE / xt_REDIRECT: nat table only, in the target's hooks.</summary>
    public override string? CheckEntry(KernelCheckContext ctx)
    {
        if (ctx.Table != "nat") return "Invalid argument";
        if ((ctx.Hooks & ~AllowedHooks) != 0) return "Invalid argument";
        return null;
    }

    public override void Save(StringBuilder sb) => Append(sb, SavePrefix, "--");

    public override void Print(StringBuilder sb, bool numeric) => Append(sb, PrintPrefix, "");

    private void Append(StringBuilder sb, string rangePrefix, string dashes)
    {
        string text = Range.Format(Family);
        if (text.Length > 0)
        {
            if (PortsOnly && text[0] == ':') text = text[1..];
            sb.Append(' ').Append(rangePrefix).Append(text);
        }
        if (Random) sb.Append(' ').Append(dashes).Append("random");
        if (RandomFully) sb.Append(' ').Append(dashes).Append("random-fully");
        if (Persistent) sb.Append(' ').Append(dashes).Append("persistent");
    }
}
