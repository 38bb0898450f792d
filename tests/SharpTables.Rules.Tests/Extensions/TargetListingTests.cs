using SharpTables.Rules.Commands;
using SharpTables.Rules.Model;

namespace SharpTables.Rules.Tests.Extensions;

/// <summary>
/// The -L text of the target extensions (REJECT, LOG, NFLOG, NFQUEUE, MARK, CONNMARK, DNAT,
/// SNAT, MASQUERADE, REDIRECT, CT, NOTRACK, TRACE), with and without -n. Every expectation was
/// produced by the real iptables 1.8.9 (nf_tables) through oracle-canon: each rule was appended to
/// a user chain, then the chain was listed with <c>-L CHAIN</c> and <c>-L CHAIN -n</c>.
/// Only the target column and the extension text after the destination column are compared.
/// </summary>
public class TargetListingTests
{
    public static TheoryData<string, string, string, string, string, string> Cases { get; } = new()
    {
        { "filter", "RJ", "-p tcp -j REJECT --reject-with tcp-reset", "REJECT", " reject-with tcp-reset", " reject-with tcp-reset" },
        { "filter", "RJ", "-j REJECT --reject-with ''", "REJECT", " reject-with icmp-net-unreachable", " reject-with icmp-net-unreachable" },
        { "filter", "RJ", "-j REJECT --reject-with ICMP-HOST-PROHIB", "REJECT", " reject-with icmp-host-prohibited", " reject-with icmp-host-prohibited" },
        { "filter", "RJ", "-j REJECT --reject-with admin-prohib", "REJECT", " reject-with icmp-admin-prohibited", " reject-with icmp-admin-prohibited" },
        { "filter", "RJ", "-j REJECT --reject-with host-unreach", "REJECT", " reject-with icmp-host-unreachable", " reject-with icmp-host-unreachable" },
        { "filter", "RJ", "-p tcp -j REJECT --reject-with tcp-rst", "REJECT", " reject-with tcp-reset", " reject-with tcp-reset" },
        { "filter", "RJ", "-j REJECT --reject-with port", "REJECT", " reject-with icmp-port-unreachable", " reject-with icmp-port-unreachable" },
        { "filter", "LG", "-j LOG --log-level emerg", "LOG", " LOG level emerg", " LOG flags 0 level 0" },
        { "filter", "LG", "-j LOG --log-level panic", "LOG", " LOG level emerg", " LOG flags 0 level 0" },
        { "filter", "LG", "-j LOG --log-level error", "LOG", " LOG level err", " LOG flags 0 level 3" },
        { "filter", "LG", "-j LOG --log-level warning", "LOG", " LOG level warn", " LOG flags 0 level 4" },
        { "filter", "LG", "-j LOG --log-level 0x3", "LOG", " LOG level err", " LOG flags 0 level 3" },
        { "filter", "LG", "-j LOG --log-level ' 5'", "LOG", " LOG level notice", " LOG flags 0 level 5" },
        { "filter", "LG", "-j LOG --log-level 6", "LOG", " LOG level info", " LOG flags 0 level 6" },
        { "filter", "LG", "-j LOG --log-level 7 --log-macdecode", "LOG", " LOG level debug macdecode", " LOG flags 32 level 7" },
        { "filter", "LG", "-j LOG --log-prefix 0123456789012345678901234567890123456789", "LOG", " LOG level warn prefix \"01234567890123456789012345678\"", " LOG flags 0 level 4 prefix \"01234567890123456789012345678\"" },
        { "filter", "LG", "-j LOG --log-prefix 'a \"b\" '\"'\"'c'\"'\"' \\d'", "LOG", " LOG level warn prefix \"a \"b\" 'c' \\d\"", " LOG flags 0 level 4 prefix \"a \"b\" 'c' \\d\"" },
        { "filter", "LG", "-j LOG --log-prefix abc_DEF-9", "LOG", " LOG level warn prefix \"abc_DEF-9\"", " LOG flags 0 level 4 prefix \"abc_DEF-9\"" },
        { "filter", "LG", "-j LOG --log-prefix a.b", "LOG", " LOG level warn prefix \"a.b\"", " LOG flags 0 level 4 prefix \"a.b\"" },
        { "filter", "LG", "-j LOG --log-tcp-sequence --log-tcp-options --log-ip-options --log-uid --log-macdecode --log-level 2 --log-prefix x", "LOG", " LOG level crit tcp-sequence tcp-options ip-options uid macdecode prefix \"x\"", " LOG flags 47 level 2 prefix \"x\"" },
        { "filter", "MK", "-j MARK --set-mark 5", "MARK", " MARK set 0x5", " MARK set 0x5" },
        { "filter", "MK", "-j MARK --set-mark 5/0xff", "MARK", " MARK xset 0x5/0xff", " MARK xset 0x5/0xff" },
        { "filter", "MK", "-j MARK --set-xmark 0x10/0x10", "MARK", " MARK or 0x10", " MARK or 0x10" },
        { "filter", "MK", "-j MARK --and-mark 0xff", "MARK", " MARK and 0xff", " MARK and 0xff" },
        { "filter", "MK", "-j MARK --or-mark 0x100", "MARK", " MARK or 0x100", " MARK or 0x100" },
        { "filter", "MK", "-j MARK --xor-mark 0x7", "MARK", " MARK xor 0x7", " MARK xor 0x7" },
        { "filter", "MK", "-j MARK --set-xmark 0x7/0", "MARK", " MARK xor 0x7", " MARK xor 0x7" },
        { "filter", "MK", "-j MARK --set-xmark 0/0xff", "MARK", " MARK and 0xffffff00", " MARK and 0xffffff00" },
        { "filter", "MK", "-j MARK --set-xmark 0", "MARK", " MARK and 0x0", " MARK and 0x0" },
        { "filter", "CM", "-j CONNMARK --set-mark 5", "CONNMARK", " CONNMARK set 0x5", " CONNMARK set 0x5" },
        { "filter", "CM", "-j CONNMARK --set-mark 5/0xff", "CONNMARK", " CONNMARK xset 0x5/0xff", " CONNMARK xset 0x5/0xff" },
        { "filter", "CM", "-j CONNMARK --set-xmark 5/0xff", "CONNMARK", " CONNMARK xset 0x5/0xff", " CONNMARK xset 0x5/0xff" },
        { "filter", "CM", "-j CONNMARK --and-mark 0xff", "CONNMARK", " CONNMARK and 0xff", " CONNMARK and 0xff" },
        { "filter", "CM", "-j CONNMARK --or-mark 0x10", "CONNMARK", " CONNMARK or 0x10", " CONNMARK or 0x10" },
        { "filter", "CM", "-j CONNMARK --xor-mark 0x10", "CONNMARK", " CONNMARK xor 0x10", " CONNMARK xor 0x10" },
        { "filter", "CM", "-j CONNMARK --save-mark --mask 0xff", "CONNMARK", " CONNMARK save mask 0xff", " CONNMARK save mask 0xff" },
        { "filter", "CM", "-j CONNMARK --restore-mark --mask 0xff", "CONNMARK", " CONNMARK restore mask 0xff", " CONNMARK restore mask 0xff" },
        { "filter", "CM", "-j CONNMARK --save-mark --ctmask 0xf --nfmask 0xff", "CONNMARK", " CONNMARK save nfmask 0xff ctmask ~0xf", " CONNMARK save nfmask 0xff ctmask ~0xf" },
        { "filter", "CM", "-j CONNMARK --restore-mark --ctmask 0xf --nfmask 0xff", "CONNMARK", " CONNMARK restore ctmask 0xf nfmask ~0xff", " CONNMARK restore ctmask 0xf nfmask ~0xff" },
        { "filter", "CM", "-j CONNMARK --save-mark --nfmask 0xff", "CONNMARK", " CONNMARK save nfmask 0xff ctmask ~0xffffffff", " CONNMARK save nfmask 0xff ctmask ~0xffffffff" },
        { "filter", "CM", "-j CONNMARK --save-mark --left-shift-mark 3", "CONNMARK", " CONNMARK save left-shift-mark 3", " CONNMARK save left-shift-mark 3" },
        { "filter", "CM", "-j CONNMARK --restore-mark --right-shift-mark 8 --mask 0xff00", "CONNMARK", " CONNMARK restore mask 0xff00 right-shift-mark 8", " CONNMARK restore mask 0xff00 right-shift-mark 8" },
        { "filter", "CM", "-j CONNMARK --set-mark 1 --left-shift-mark 4", "CONNMARK", " CONNMARK set 0x1 left-shift-mark 4", " CONNMARK set 0x1 left-shift-mark 4" },
        { "filter", "CM", "-j CONNMARK --save-mark --left-shift-mark 3 --right-shift-mark 2", "CONNMARK", " CONNMARK save right-shift-mark 2", " CONNMARK save right-shift-mark 2" },
        { "filter", "CM", "-j CONNMARK --set-mark 0", "CONNMARK", " CONNMARK and 0x0", " CONNMARK and 0x0" },
        { "filter", "CM", "-j CONNMARK --set-mark 0xffffffff/0", "CONNMARK", " CONNMARK or 0xffffffff", " CONNMARK or 0xffffffff" },
        { "nat", "DN", "-p icmp -j DNAT --to-destination 1.1.1.1:5", "DNAT", " to:1.1.1.1:5", " to:1.1.1.1:5" },
        { "nat", "DN", "-p tcp -j DNAT --to-destination 12:80", "DNAT", " to::80", " to::80" },
        { "nat", "DN", "-j DNAT --to-destination 1.1.1.10-1.1.1.1", "DNAT", " to:1.1.1.10-1.1.1.1", " to:1.1.1.10-1.1.1.1" },
        { "nat", "DN", "-p tcp -j DNAT --to-destination :80", "DNAT", " to::80", " to::80" },
        { "nat", "DN", "-p tcp -j DNAT --to-destination 1.1.1.1:80-90/5x", "DNAT", " to:1.1.1.1:80-90/5", " to:1.1.1.1:80-90/5" },
        { "nat", "DN", "-j DNAT --to-destination 1.1.1.1 --random --persistent", "DNAT", " to:1.1.1.1 random persistent", " to:1.1.1.1 random persistent" },
        { "nat", "DN", "-p tcp -j DNAT --to-destination 1.1.1.1:80 --random", "DNAT", " to:1.1.1.1:80 random", " to:1.1.1.1:80 random" },
        { "nat", "DN", "-p tcp -j DNAT --to-destination 1.1.1.1:0x50", "DNAT", " to:1.1.1.1:80", " to:1.1.1.1:80" },
        { "nat", "DN", "-p tcp -j DNAT --to-destination 1.1.1.1:80-90/100", "DNAT", " to:1.1.1.1:80-90/100", " to:1.1.1.1:80-90/100" },
        { "nat", "DN", "-p tcp -j DNAT --to-destination 1.1.1.1-1.1.1.5:80-80", "DNAT", " to:1.1.1.1-1.1.1.5:80", " to:1.1.1.1-1.1.1.5:80" },
        { "nat", "DN", "-p sctp -j DNAT --to-destination 1.1.1.1:80", "DNAT", " to:1.1.1.1:80", " to:1.1.1.1:80" },
        { "nat", "DN", "'!' -p tcp -j DNAT --to-destination 1.1.1.1:80", "DNAT", " to:1.1.1.1:80", " to:1.1.1.1:80" },
        { "nat", "DN", "-p tcp -j DNAT --to-destination 1.1.1.1:domain", "DNAT", " to:1.1.1.1:53", " to:1.1.1.1:53" },
        { "nat", "DN", "-p tcp -j DNAT --to-destination 1.1.1.1:80-90/domain", "DNAT", " to:1.1.1.1:80-90/53", " to:1.1.1.1:80-90/53" },
        { "nat", "SN", "-p tcp -j SNAT --to-source 1.1.1.1:1000-2000/30", "SNAT", " to:1.1.1.1:1000-2000/0", " to:1.1.1.1:1000-2000/0" },
        { "nat", "SN", "-p tcp -j SNAT --to-source 1.1.1.1-1.1.1.9:1000-2000 --random --persistent", "SNAT", " to:1.1.1.1-1.1.1.9:1000-2000 random persistent", " to:1.1.1.1-1.1.1.9:1000-2000 random persistent" },
        { "nat", "SN", "-p tcp -j SNAT --to-source :1000", "SNAT", " to::1000", " to::1000" },
        { "nat", "MQ", "-p tcp -j MASQUERADE --to-ports 1024-65535", "MASQUERADE", " masq ports: 1024-65535", " masq ports: 1024-65535" },
        { "nat", "MQ", "-p tcp -j MASQUERADE --to-ports 1024 --random", "MASQUERADE", " masq ports: 1024 random", " masq ports: 1024 random" },
        { "nat", "MQ", "-p tcp -j MASQUERADE --to-ports 10-20/30", "MASQUERADE", " masq ports: 10-20/0", " masq ports: 10-20/0" },
        { "nat", "MQ", "-j MASQUERADE --random --random-fully", "MASQUERADE", " random random-fully", " random random-fully" },
        { "nat", "RD", "-p tcp -j REDIRECT --to-ports 8080", "REDIRECT", " redir ports 8080", " redir ports 8080" },
        { "nat", "RD", "-p tcp -j REDIRECT --to-ports 80-90 --random", "REDIRECT", " redir ports 80-90 random", " redir ports 80-90 random" },
        { "nat", "RD", "-j REDIRECT", "REDIRECT", "", "" },
        { "raw", "CTC", "-j NOTRACK", "CT", " NOTRACK", " NOTRACK" },
        { "raw", "CTC", "-j CT --notrack", "CT", " CT notrack", " CT notrack" },
        { "raw", "CTC", "-j CT", "CT", " CT", " CT" },
        { "raw", "CTC", "-j CT --zone 0", "CT", " CT", " CT" },
        { "raw", "CTC", "-j CT --zone mark", "CT", " CT zone mark", " CT zone mark" },
        { "raw", "CTC", "-j CT --zone MARK", "CT", " CT zone mark", " CT zone mark" },
        { "raw", "CTC", "-j CT --zone-orig 5", "CT", " CT zone-orig 5", " CT zone-orig 5" },
        { "raw", "CTC", "-j CT --zone-reply mark", "CT", " CT zone-reply mark", " CT zone-reply mark" },
        { "raw", "CTC", "-j CT --zone-orig 5 --zone-reply 6", "CT", " CT zone 6", " CT zone 6" },
        { "raw", "CTC", "-j CT --zone 5 --zone-orig 6", "CT", " CT zone-orig 6", " CT zone-orig 6" },
        { "raw", "CTC", "-j CT --zone 0x10", "CT", " CT zone 16", " CT zone 16" },
        { "raw", "CTC", "-p tcp -j CT --helper ftp", "CT", " CT helper ftp", " CT helper ftp" },
        { "raw", "CTC", "-j CT --ctevents mark,new,natseqinfo,secmark", "CT", " CT ctevents new,mark,natseqinfo,secmark", " CT ctevents new,mark,natseqinfo,secmark" },
        { "raw", "CTC", "-j CT --notrack --zone 5 --ctevents new", "CT", " CT notrack ctevents new zone 5", " CT notrack ctevents new zone 5" },
        { "raw", "CTC", "-j CT --notrack --helper ftp", "CT", " CT notrack helper ftp", " CT notrack helper ftp" },
        { "raw", "OUTPUT", "-j TRACE", "TRACE", "", "" },
        { "filter", "NQ", "-j NFQUEUE --queue-num 3", "NFQUEUE", " NFQUEUE num 3", " NFQUEUE num 3" },
        { "filter", "NQ", "-j NFQUEUE --queue-balance 0:3 --queue-bypass --queue-cpu-fanout", "NFQUEUE", " NFQUEUE balance 0:3 bypass cpu-fanout", " NFQUEUE balance 0:3 bypass cpu-fanout" },
        { "filter", "NQ", "-j NFQUEUE --queue-balance 65534:65535", "NFQUEUE", " NFQUEUE balance 65534:65535", " NFQUEUE balance 65534:65535" },
        { "filter", "NQ", "-j NFQUEUE --queue-balance 1:65535", "NFQUEUE", " NFQUEUE balance 1:65535", " NFQUEUE balance 1:65535" },
        { "filter", "NQ", "-j NFQUEUE --queue-num 7 --queue-bypass", "NFQUEUE", " NFQUEUE num 7 bypass", " NFQUEUE num 7 bypass" },
        { "filter", "NL", "-j NFLOG --nflog-prefix pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp", "NFLOG", " nflog-prefix ppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp", " nflog-prefix ppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp" },
        { "filter", "NL", "-j NFLOG --nflog-prefix qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq", "NFLOG", " nflog-prefix qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq", " nflog-prefix qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq" },
        { "filter", "NL", "-j NFLOG --nflog-threshold 0", "NFLOG", "", "" },
        { "filter", "NL", "-j NFLOG --nflog-prefix 'a b\"c'", "NFLOG", " nflog-prefix \"a b\\\"c\"", " nflog-prefix \"a b\\\"c\"" },
        { "filter", "NL", "-j NFLOG --nflog-group 3 --nflog-size 100 --nflog-threshold 5 --nflog-prefix x", "NFLOG", " nflog-prefix x nflog-group 3 nflog-size 100 nflog-threshold 5", " nflog-prefix x nflog-group 3 nflog-size 100 nflog-threshold 5" },
        { "filter", "NL", "-j NFLOG --nflog-range 5 --nflog-group 2", "NFLOG", " nflog-group 2", " nflog-group 2" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Lists_like_iptables(string table, string chain, string rule, string targetColumn, string text, string numericText)
    {
        var exec = new CommandExecutor(new Ruleset());
        if (!BuiltinTables.Find(table)!.HasChain(chain)) exec.Run(["-t", table, "-N", chain]);
        var args = new List<string> { "-t", table, "-A", chain };
        args.AddRange(TestPaths.ShellSplit(rule));
        exec.Run(args);

        var line = RuleLine(exec.Run(["-t", table, "-L", chain]));
        Assert.StartsWith(targetColumn.PadRight(9) + " ", line);
        Assert.Equal(text, AfterColumns(line, "anywhere             anywhere"));

        var numeric = RuleLine(exec.Run(["-t", table, "-L", chain, "-n"]));
        Assert.StartsWith(targetColumn.PadRight(9) + " ", numeric);
        Assert.Equal(numericText, AfterColumns(numeric, "0.0.0.0/0            0.0.0.0/0"));
    }

    private static string RuleLine(string listing) => listing.Split('\n')[2];

    /// <summary>The extension text: what follows the padded destination column, with its leading space.</summary>
    private static string AfterColumns(string line, string addresses)
    {
        int i = line.IndexOf(addresses, StringComparison.Ordinal);
        Assert.True(i >= 0, line);
        string rest = line[(i + addresses.Length)..];
        string trimmed = rest.TrimStart(' ');
        return trimmed.Length == 0 ? "" : rest[(rest.Length - trimmed.Length - 1)..];
    }
}
