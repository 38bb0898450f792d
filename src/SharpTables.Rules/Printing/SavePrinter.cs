using System.Text;
using SharpTables.Packets;
using SharpTables.Rules.Extensions;
using SharpTables.Rules.Model;
using SharpTables.Rules.Parsing;

namespace SharpTables.Rules.Printing;

/// <summary>
/// The canonical text of rules, as iptables-nft prints them for <c>-S</c> and iptables-save
/// (nft_ipv4_save_rule / nft_ipv6_save_rule + save_matches_and_target): addresses, interfaces, protocol, fragment,
/// then every match with <c>-m</c>, then <c>-c</c> counters when asked, then the target.
/// </summary>
public static class SavePrinter
{
    /// <summary>The rule text after "-A CHAIN " (no leading space); with counters, " -c P B" before the target.</summary>
    public static string RuleBody(Rule rule, Counters? counters)
    {
        var sb = new StringBuilder(96);
        AppendRule(sb, rule, counters);
        return sb.Length > 0 && sb[0] == ' ' ? sb.ToString(1, sb.Length - 1) : sb.ToString();
    }

    /// <summary>Appends the rule, each item with a leading space.</summary>
    public static void AppendRule(StringBuilder sb, Rule rule, Counters? counters)
    {
        var h = rule.Header;
        AppendAddress(sb, 's', h.Source, h.SourceMask, h.InvertSource, h.Family);
        AppendAddress(sb, 'd', h.Destination, h.DestinationMask, h.InvertDestination, h.Family);
        if (h.InInterface.Length > 0) sb.Append(h.InvertIn ? " ! -i " : " -i ").Append(h.InInterface);
        if (h.OutInterface.Length > 0) sb.Append(h.InvertOut ? " ! -o " : " -o ").Append(h.OutInterface);
        if (h.Protocol > 0)
        {
            if (h.InvertProtocol) sb.Append(" !");
            var name = NetDb.ProtocolName(h.Protocol);
            sb.Append(" -p ").Append(name ?? h.Protocol.ToString());
        }
        if (h.Fragment != FragmentMatch.Any) sb.Append(h.Fragment == FragmentMatch.NotFragments ? " ! -f" : " -f");
        foreach (var m in rule.Matches)
        {
            if (m.SaveModuleName) sb.Append(" -m ").Append(m.SaveName);
            m.Save(sb);
        }
        if (counters is { } c) sb.Append(" -c ").Append(c.Packets).Append(' ').Append(c.Bytes);
        switch (rule.Target)
        {
            case null: break;
            case JumpTarget j: sb.Append(j.IsGoto ? " -g " : " -j ").Append(j.Chain); break;
            case var t:
                sb.Append(" -j ").Append(t.SaveName);
                t.Save(sb);
                break;
        }
    }

    /// <summary>
    /// save_ipv4_addr prints nothing for "any" (0.0.0.0/0 without !); save_ipv6_addr for any /0
    /// mask without ! (the address is zero then).
    /// </summary>
    private static void AppendAddress(StringBuilder sb, char letter, UInt128 addr, UInt128 mask, bool invert, Family family)
    {
        if (!invert && mask == 0 && (addr == 0 || family == Family.IPv6)) return;
        if (invert) sb.Append(" !");
        sb.Append(" -").Append(letter).Append(' ');
        AppendPrefix(sb, addr, mask, family);
    }

    /// <summary>"addr/len", or "addr/mask" for a mask with holes (save_ipv4_addr / save_ipv6_addr).</summary>
    public static void AppendPrefix(StringBuilder sb, UInt128 addr, UInt128 mask, Family family)
    {
        if (family == Family.IPv6)
        {
            sb.Append(Ipv6Text.Format(addr)).Append('/');
            int len6 = Ipv6Text.PrefixLength(mask);
            if (len6 >= 0) sb.Append(len6); else sb.Append(Ipv6Text.Format(mask));
            return;
        }
        uint a = (uint)addr, m = (uint)mask;
        sb.Append(Ipv4.Format(a)).Append('/');
        int len = Ipv4.PrefixLength(m);
        if (len >= 0) sb.Append(len); else sb.Append(Ipv4.Format(m));
    }

    /// <summary><c>iptables -S [CHAIN [N]]</c> for one table.</summary>
    public static string ListRules(Table table, string? chain, int ruleNumber, bool counters)
    {
        var sb = new StringBuilder();
        IEnumerable<Chain> chains = chain == null ? table.Chains : [table.Find(chain)!];
        if (ruleNumber == 0)
        {
            foreach (var c in chains)
            {
                if (c.IsBuiltin)
                {
                    sb.Append("-P ").Append(c.Name).Append(' ').Append(c.Policy);
                    if (counters) sb.Append(" -c ").Append(c.PolicyCounters.Packets).Append(' ').Append(c.PolicyCounters.Bytes);
                    sb.Append('\n');
                }
                else sb.Append("-N ").Append(c.Name).Append('\n');
            }
        }
        foreach (var c in chains)
        {
            for (int i = 0; i < c.Rules.Count; i++)
            {
                if (ruleNumber != 0 && i + 1 != ruleNumber) continue;
                sb.Append("-A ").Append(c.Name);
                AppendRule(sb, c.Rules[i].Rule, counters ? c.Rules[i].Counters : null);
                sb.Append('\n');
            }
        }
        return sb.ToString();
    }

    /// <summary>One table in iptables-save format, from "*table" to "COMMIT".</summary>
    public static void AppendTable(StringBuilder sb, Table table, bool counters)
    {
        sb.Append('*').Append(table.Name).Append('\n');
        foreach (var c in table.Chains)
        {
            sb.Append(':').Append(c.Name).Append(' ').Append(c.IsBuiltin ? c.Policy : "-").Append(' ');
            // the chain line always carries the policy counters, with or without -c
            sb.Append('[').Append(c.PolicyCounters.Packets).Append(':').Append(c.PolicyCounters.Bytes).Append("]\n");
        }
        foreach (var c in table.Chains)
            foreach (var r in c.Rules)
            {
                if (counters) sb.Append('[').Append(r.Counters.Packets).Append(':').Append(r.Counters.Bytes).Append("] ");
                sb.Append("-A ").Append(c.Name);
                AppendRule(sb, r.Rule, null);
                sb.Append('\n');
            }
        sb.Append("COMMIT\n");
    }
}
