using System.Text;
using SharpTables.Packets;
using SharpTables.Rules.Extensions;
using SharpTables.Rules.Model;
using SharpTables.Rules.Parsing;

namespace SharpTables.Rules.Printing;

public readonly record struct ListOptions(bool Numeric, bool Verbose, bool Exact, bool LineNumbers);

/// <summary>
/// <c>iptables -L</c> output, as iptables-nft 1.8.9 prints it (print_header, print_rule_details,
/// print_fragment, print_ifaces, print_ipv4_addresses, then each extension's print()).
/// </summary>
public static class ListPrinter
{
    public static HostsFile Hosts { get; set; } = HostsFile.System;

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
        if (o.Verbose)
        {
            if (!o.Exact) sb.Append(" pkts bytes ");
            else sb.Append("    pkts      bytes ");
        }
        sb.Append("target    ");
        sb.Append(" prot opt");
        if (o.Verbose) sb.Append(" in     out    ");
        sb.Append(" source               destination         \n");
    }

    /// <summary>xtables_print_num: K/M/G/T with 5-wide columns, or exact 8-wide with -x.</summary>
    public static void Num(StringBuilder sb, ulong n, bool exact, bool notable = false)
    {
        if (exact)
        {
            sb.Append(notable ? n.ToString() : n.ToString().PadLeft(8)).Append(' ');
            return;
        }
        if (n <= 99999) { sb.Append(notable ? n.ToString() : n.ToString().PadLeft(5)).Append(' '); return; }
        string[] units = ["K", "M", "G", "T"];
        for (int u = 0; u < units.Length; u++)
        {
            n = (n + 500) / 1000;
            if (n <= 9999 || u == units.Length - 1)
            {
                sb.Append(notable ? n.ToString() : n.ToString().PadLeft(4)).Append(units[u]).Append(' ');
                return;
            }
        }
    }

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
        string target = r.Target switch
        {
            null => "",
            JumpTarget j => j.Chain,
            var t => t.ListName,
        };
        sb.Append(target.PadRight(9)).Append(' ');
        sb.Append(h.InvertProtocol ? '!' : ' ');
        string? pname = o.Numeric ? (h.Protocol == 0 ? "all" : null) : NetDb.ProtocolName(h.Protocol);
        sb.Append((pname ?? h.Protocol.ToString()).PadRight(5));
        // opt column: fragment flags
        sb.Append(h.Fragment == FragmentMatch.NotFragments ? '!' : '-');
        sb.Append(h.Fragment == FragmentMatch.Any ? '-' : 'f');
        sb.Append(' ');
        if (o.Verbose)
        {
            string inI = (h.InvertIn ? "!" : "") + (h.InInterface.Length > 0 ? h.InInterface : "*");
            string outI = (h.InvertOut ? "!" : "") + (h.OutInterface.Length > 0 ? h.OutInterface : "*");
            sb.Append(' ').Append(inI.PadRight(6)).Append(' ');
            sb.Append(outI.PadRight(6)).Append(' ');
        }
        Address(sb, h.Source, h.SourceMask, h.InvertSource, o.Numeric);
        Address(sb, h.Destination, h.DestinationMask, h.InvertDestination, o.Numeric);
        if (r.Target is JumpTarget { IsGoto: true }) sb.Append("[goto] ");
        foreach (var m in r.Matches) m.Print(sb, o.Numeric);
        if (r.Target is not null and not JumpTarget and not VerdictTarget) r.Target.Print(sb, o.Numeric);
        sb.Append('\n');
    }

    private static void Address(StringBuilder sb, UInt128 addr, UInt128 mask, bool invert, bool numeric)
    {
        sb.Append(invert ? '!' : ' ');
        string text;
        if (mask == 0 && !numeric) text = "anywhere";
        else
        {
            uint a = (uint)addr, m = (uint)mask;
            string host = numeric ? Ipv4.Format(a) : (Hosts.NameOf(a) ?? Ipv4.Format(a));
            int len = Ipv4.PrefixLength(m);
            string suffix = len == 32 ? "" : len >= 0 ? "/" + len : "/" + Ipv4.Format(m);
            text = host + suffix;
        }
        sb.Append(text.PadRight(19)).Append(' ');
    }
}
