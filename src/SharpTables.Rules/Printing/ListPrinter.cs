using System.Text;
using SharpTables.Packets;
using SharpTables.Rules.Extensions;
using SharpTables.Rules.Model;
using SharpTables.Rules.Parsing;

namespace SharpTables.Rules.Printing;

public readonly record struct ListOptions(bool Numeric, bool Verbose, bool Exact, bool LineNumbers);

/// <summary>
/// <c>iptables -L</c> / <c>ip6tables -L</c> output, as iptables-nft 1.8.9 prints it (print_header,
/// print_rule_details, print_fragment, print_ifaces, print_ipv4_addresses / print_ipv6_addresses,
/// then each extension's print()). The column layout is the same for both families; longer IPv6
/// addresses simply push the following columns to the right.
/// </summary>
public static class ListPrinter
{
    private static HostsFile? s_hosts;

    /// <summary>Where -L finds host names: <see cref="HostsFile.System"/> unless set.</summary>
    public static HostsFile Hosts
    {
        get => s_hosts ?? HostsFile.System;
        set => s_hosts = value;
    }

    public static string List(Table table, string? chain, int ruleNumber, ListOptions o)
    {
        var sb = new StringBuilder();
        IEnumerable<Chain> chains = chain == null ? table.Chains : [table.Find(chain)!];
        bool first = true;
        foreach (var c in chains)
        {
            if (ruleNumber == 0)
            {
                if (!first) sb.Append('\n');
                first = false;
                Header(sb, table, c, o);
            }
            for (int i = 0; i < c.Rules.Count; i++)
            {
                if (ruleNumber != 0 && ruleNumber != i + 1) continue;
                RuleLine(sb, c.Rules[i], i + 1, o);
            }
        }
        return sb.ToString();
    }

    private static void Header(StringBuilder sb, Table table, Chain c, ListOptions o)
    {
        sb.Append("Chain ").Append(c.Name);
        if (c.IsBuiltin)
        {
            sb.Append(" (policy ").Append(c.Policy);
            if (o.Verbose)
            {
                sb.Append(' ');
                Num(sb, c.PolicyCounters.Packets, o.Exact, notable: true);
                sb.Append("packets, ");
                Num(sb, c.PolicyCounters.Bytes, o.Exact, notable: true);
                sb.Append("bytes");
            }
            sb.Append(")\n");
        }
        else
        {
            sb.Append(" (").Append(table.References(c.Name)).Append(" references)\n");
        }
        if (o.LineNumbers) sb.Append("num  ");
        if (o.Verbose) sb.Append(o.Exact ? "    pkts      bytes " : " pkts bytes ");
        sb.Append("target    ");
        sb.Append(" prot opt");
        if (o.Verbose) sb.Append(" in     out    ");
        sb.Append(" source               destination         \n");
    }

    /// <summary>
    /// xtables_print_num: exact "%8llu " with -x, else up to 99999 as "%5llu ", then rounded
    /// ((n+500)/1000, wrapping like the C u64 arithmetic) into K, M, G and finally T.
    /// <paramref name="notable"/> drops the padding (chain header form).
    /// </summary>
    public static void Num(StringBuilder sb, ulong n, bool exact, bool notable = false)
    {
        if (exact) { Pad(sb, n.ToString(), 8, notable); return; }
        if (n <= 99999) { Pad(sb, n.ToString(), 5, notable); return; }
        ReadOnlySpan<char> units = "KMGT";
        for (int u = 0; u < units.Length; u++)
        {
            n = unchecked(n + 500) / 1000;
            if (n <= 9999 || u == units.Length - 1)
            {
                var text = n.ToString();
                if (!notable && text.Length < 4) sb.Append(' ', 4 - text.Length);
                sb.Append(text).Append(units[u]).Append(' ');
                return;
            }
        }
    }

    private static void Pad(StringBuilder sb, string text, int width, bool notable)
    {
        if (!notable && text.Length < width) sb.Append(' ', width - text.Length);
        sb.Append(text).Append(' ');
    }

    private static string TargetName(Rule r) => r.Target switch
    {
        null => "",
        JumpTarget j => j.Chain,
        var t => t.ListName,
    };

    private static void RuleLine(StringBuilder sb, RuleEntry e, int num, ListOptions o)
    {
        var r = e.Rule;
        var h = r.Header;
        if (o.LineNumbers) sb.Append(num.ToString().PadRight(4)).Append(' ');
        if (o.Verbose)
        {
            Num(sb, e.Counters.Packets, o.Exact);
            Num(sb, e.Counters.Bytes, o.Exact);
        }
        sb.Append(TargetName(r).PadRight(9)).Append(' ');
        sb.Append(h.InvertProtocol ? '!' : ' ');
        string proto = o.Numeric ? h.Protocol.ToString() : (NetDb.ProtocolName(h.Protocol) ?? h.Protocol.ToString());
        sb.Append(proto.PadRight(4)).Append(' ');
        AppendOpt(sb, h);
        sb.Append(' ');
        if (o.Verbose)
        {
            sb.Append(' ').Append(Iface(h.InInterface, h.InvertIn, o.Numeric).PadRight(6)).Append(' ');
            sb.Append(Iface(h.OutInterface, h.InvertOut, o.Numeric).PadRight(6)).Append(' ');
        }
        sb.Append(h.InvertSource ? '!' : ' ').Append(AddressText(h.Family, h.Source, h.SourceMask, o.Numeric).PadRight(19)).Append(' ');
        sb.Append(h.InvertDestination ? '!' : ' ').Append(AddressText(h.Family, h.Destination, h.DestinationMask, o.Numeric).PadRight(19)).Append(' ');
        AppendExtensions(sb, r, o.Numeric);
        sb.Append('\n');
    }

    /// <summary>print_fragment: IPv6 rules have no fragment flag and always show "--".</summary>
    private static void AppendOpt(StringBuilder sb, RuleHeader h)
    {
        if (h.Family == Family.IPv6)
        {
            sb.Append("--");
            return;
        }
        sb.Append(h.Fragment == FragmentMatch.NotFragments ? '!' : '-');
        sb.Append(h.Fragment == FragmentMatch.Any ? '-' : 'f');
    }

    private static void AppendExtensions(StringBuilder sb, Rule r, bool numeric)
    {
        if (r.Target is JumpTarget { IsGoto: true }) sb.Append("[goto] ");
        foreach (var m in r.Matches) m.Print(sb, numeric);
        if (r.Target is not null and not JumpTarget) r.Target.Print(sb, numeric);
    }

    private static string Iface(string name, bool invert, bool numeric) =>
        (invert ? "!" : "") + (name.Length > 0 ? name : numeric ? "*" : "any");

    /// <summary>
    /// -L address text. IPv4: "anywhere" / "0.0.0.0/0" for any; a host (/32) by host name, then network
    /// name, else numeric; a network by network name only; the mask as "/len" or dotted, none for /32.
    /// IPv6 (ipv6_addr_to_string): "anywhere" for the all-zero address whatever the mask; else the
    /// address's host name or numeric text, then "/len", "/mask" or nothing for /128.
    /// </summary>
    public static string AddressText(Family family, UInt128 addr, UInt128 mask, bool numeric)
    {
        if (family == Family.IPv6)
        {
            if (addr == 0 && !numeric) return "anywhere";
            string host6 = (numeric ? null : Hosts.NameOf6(addr)) ?? Ipv6Text.Format(addr);
            return host6 + Ipv6Text.MaskSuffix(mask);
        }
        uint a = (uint)addr, m = (uint)mask;
        if (m == 0 && !numeric) return "anywhere";
        int len = Ipv4.PrefixLength(m);
        string suffix = len == 32 ? "" : len >= 0 ? "/" + len : "/" + Ipv4.Format(m);
        string host = Ipv4.Format(a);
        if (!numeric)
            host = (len == 32 ? Hosts.NameOf(a) : null) ?? Networks.NameOf(a) ?? host;
        return host + suffix;
    }

    /// <summary>
    /// The one-line form iptables -v prints for each rule a command adds, deletes or replaces
    /// (print_firewall_line with FMT_NOTABLE): numeric addresses, "*" interfaces, protocol names.
    /// </summary>
    public static string VerboseRuleLine(Rule r)
    {
        var sb = new StringBuilder();
        var h = r.Header;
        sb.Append(TargetName(r)).Append(' ');
        sb.Append(h.InvertProtocol ? '!' : ' ');
        sb.Append(NetDb.ProtocolName(h.Protocol) ?? h.Protocol.ToString()).Append(' ');
        sb.Append("opt ");
        AppendOpt(sb, h);
        sb.Append(' ');
        sb.Append("in ").Append(Iface(h.InInterface, h.InvertIn, true)).Append(' ');
        sb.Append("out ").Append(Iface(h.OutInterface, h.InvertOut, true)).Append(' ');
        sb.Append(h.InvertSource ? '!' : ' ').Append(AddressText(h.Family, h.Source, h.SourceMask, true)).Append(' ');
        sb.Append(h.InvertDestination ? '!' : ' ').Append("-> ").Append(AddressText(h.Family, h.Destination, h.DestinationMask, true));
        sb.Append("  ");
        AppendExtensions(sb, r, numeric: true);
        sb.Append('\n');
        return sb.ToString();
    }
}

/// <summary>/etc/networks (getnetbyaddr), read once, for -L without -n.</summary>
public static class Networks
{
    private static readonly Lazy<Dictionary<uint, string>> s_byAddress = new(() =>
    {
        var d = new Dictionary<uint, string>();
        try
        {
            foreach (var raw in File.ReadLines("/etc/networks"))
            {
                var line = raw;
                int hash = line.IndexOf('#');
                if (hash >= 0) line = line[..hash];
                var f = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
                if (f.Length < 2 || !Ipv4.TryParse(f[1], out uint a)) continue;
                d.TryAdd(a, f[0]);
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return d;
    });

    public static string? NameOf(uint address) => s_byAddress.Value.GetValueOrDefault(address);
}
