namespace SharpTables.DiffTest.Generation;

/// <summary>
/// Random, valid IPv4 rules for one case, from the grammar SharpTables implements. Values are drawn
/// from the oracle topology (the case's own addresses, the firewall's, the /24s) so rules match some
/// of the case's packets. Timing-sensitive matches are kept away from any time boundary a batch
/// run could cross (a batch lasts well under 30 s):
/// <list type="bullet">
/// <item><c>limit</c>/<c>hashlimit</c>: either per hour/day (no credit comes back during a run, so exactly
/// the burst matches) or 10000/s (every packet matches: at most a few packets arrive per jiffy).</item>
/// <item><c>hashlimit</c> always sets <c>--hashlimit-htable-expire</c> to 10 min (the 10 s default could expire
/// a bucket in the middle of a run).</item>
/// <item><c>recent --seconds</c> is 90 s or more: every earlier hit of the run is inside the window.</item>
/// <item><c>conntrack --ctexpire</c> ranges have their ends outside [T-31, T] for every conntrack timeout T
/// (10, 30, 60, 120, 180, 300, 600, 432000 s), so neither a just-refreshed entry nor an ICMP error
/// that does not refresh its master falls on a boundary.</item>
/// <item>NAT never picks a random port: SNAT/MASQUERADE without port ranges, DNAT/REDIRECT ports are destination
/// manipulations (first free port, deterministic).</item>
/// <item>LOG <c>--log-tcp-sequence</c>/<c>--log-tcp-options</c> only where no kernel-generated SYN-ACK (random ISN,
/// timestamps) can pass: not in OUTPUT/POSTROUTING and not in the tail case.</item>
/// </list>
/// Names that the kernel shares across rules (recent lists, hashlimit tables) and LOG prefixes carry the
/// case id, so cases never see each other's state.
/// </summary>
internal sealed class RuleGenerator(Rng r, BatchSpec batch, CaseSpec cs)
{
    private int _logNo, _hashNo, _userNo;

    /// <summary>Fills <see cref="CaseSpec.Tables"/> for every table of the batch.</summary>
    public void Generate()
    {
        foreach (var table in batch.TableNames)
        {
            var ct = new CaseTable(table);
            var hooks = Tables.Chains(table);
            foreach (var h in hooks)
            {
                ct.Policies[h] = Policy(table, h);
                ct.Chains.Add(new ChainSpec(cs.IsTail ? h.ToString() : cs.Prefix + h, h, isUser: false));
            }
            int users = r.Weighted((45, 0), (35, 1), (20, 2));
            for (int i = 0; i < users; i++)
                ct.Chains.Add(new ChainSpec(cs.Prefix + "u" + ++_userNo, r.Pick(hooks), isUser: true));
            cs.Tables[table] = ct;
        }
        foreach (var ct in cs.Tables.Values)
            for (int i = 0; i < ct.Chains.Count; i++)
            {
                var chain = ct.Chains[i];
                // Jumps go forward only (to user chains after this one, of the same built-in chain): no loops.
                var jumps = new List<string>();
                for (int j = i + 1; j < ct.Chains.Count; j++)
                    if (ct.Chains[j].IsUser && ct.Chains[j].Hook == chain.Hook) jumps.Add(ct.Chains[j].Name);
                int n = chain.IsUser ? r.Range(1, 4)
                    : ct.Name == "filter" ? r.Weighted((15, 0), (20, 1), (25, 2), (20, 3), (12, 4), (8, 5))
                    : r.Weighted((45, 0), (20, 1), (18, 2), (10, 3), (7, 4));
                // Make sure user chains are reached now and then.
                for (int k = 0; k < n; k++) chain.Rules.Add(Rule(ct.Name, chain, jumps));
                if (jumps.Count > 0 && !chain.Rules.Any(x => jumps.Any(j => x.EndsWith(" " + j, StringComparison.Ordinal))) && r.Chance(0.7))
                    chain.Rules.Insert(r.Next(chain.Rules.Count + 1), JumpOnly(jumps));
            }
    }

    private string Policy(string table, Hook h) => table switch
    {
        "nat" => "ACCEPT",
        "filter" => r.Chance(0.35) ? "DROP" : "ACCEPT",
        "mangle" => r.Chance(0.08) ? "DROP" : "ACCEPT",
        _ => r.Chance(0.05) ? "DROP" : "ACCEPT",
    };

    private string JumpOnly(List<string> jumps)
    {
        var t = new Tokens();
        if (r.Chance(0.5)) Header(t, Proto(), null);
        t.Add(r.Chance(0.75) ? "-j" : "-g", r.Pick(jumps));
        return t.ToString();
    }

    // ---------------------------------------------------------------- rules

    /// <summary>A protocol choice: name (null = any) and whether it is inverted.</summary>
    private readonly record struct ProtoChoice(string? Name, bool Invert)
    {
        public bool Is(string p) => Name == p && !Invert;
        public bool IsPortProto => Is("tcp") || Is("udp");
    }

    private ProtoChoice Proto() => r.Weighted<ProtoChoice>(
        (30, new(null, false)), (30, new("tcp", false)), (15, new("udp", false)), (15, new("icmp", false)),
        (3, new("tcp", true)), (2, new("udp", true)), (2, new("all", false)), (1, new("47", false)));

    private string Rule(string table, ChainSpec chain, List<string> jumps)
    {
        var h = chain.Hook;
        var target = Target(table, h, jumps);
        var proto = Proto();
        // Targets with protocol needs pick the protocol.
        if (target.NeedsTcp) proto = new("tcp", false);
        else if (target.NeedsPortProto && !proto.IsPortProto) proto = new(r.Chance(0.6) ? "tcp" : "udp", false);

        var t = new Tokens();
        Header(t, proto, h);
        int matches = r.Weighted((28, 0), (40, 1), (24, 2), (8, 3));
        if ((proto.Is("tcp") || proto.Is("udp") || proto.Is("icmp")) && r.Chance(0.6)) { ProtoOptions(t, proto.Name!); matches--; }
        var used = new HashSet<string>();
        for (int i = 0; i < matches; i++)
        {
            var kind = MatchKind(proto);
            if (!used.Add(kind)) continue;
            Match(t, kind, proto, h);
        }
        t.Add(target.Words);
        return t.ToString();
    }

    private void Header(Tokens t, ProtoChoice p, Hook? h)
    {
        if (p.Name != null)
        {
            if (p.Invert) t.Add("!");
            t.Add("-p", p.Name);
        }
        if (r.Chance(0.3)) Addr(t, "-s");
        if (r.Chance(0.3)) Addr(t, "-d");
        if (h is Hook.PREROUTING or Hook.INPUT or Hook.FORWARD && r.Chance(0.15)) Iface(t, "-i");
        if (h is Hook.OUTPUT or Hook.POSTROUTING or Hook.FORWARD && r.Chance(0.15)) Iface(t, "-o");
        if (r.Chance(0.04)) { if (r.Chance(0.4)) t.Add("!"); t.Add("-f"); }
    }

    private void Addr(Tokens t, string opt)
    {
        if (r.Chance(0.15)) t.Add("!");
        t.Add(opt, AddressValue());
    }

    /// <summary>An address or network that sometimes covers the case's packets.</summary>
    private string AddressValue()
    {
        var own = cs.ClientAddrs;
        return r.Weighted<Func<string>>(
            (30, () => r.Pick(own)),
            (8, () => r.Pick(own) + "/" + r.Pick([30, 31, 29, 28])),
            (12, () => r.Pick([Topo.FwEth0, Topo.FwEth1])),
            (8, () => "198.51.100.0/" + r.Pick([24, 25, 26])),
            (12, () => batch.Router ? r.Pick(cs.BackendAddrs) : r.Pick(own)),
            (5, () => batch.Router ? "203.0.113.0/24" : "198.51.100.128/25"),
            (6, () => Topo.ClientHost(r.Range(1, 254))),
            (4, () => r.Pick(["10.0.0.0/8", "127.0.0.1", "192.0.2.0/24"])))();
    }

    private void Iface(Tokens t, string opt)
    {
        if (r.Chance(0.2)) t.Add("!");
        t.Add(opt, r.Weighted((40, "eth0"), (20, batch.Router ? "eth1" : "eth0"), (15, "lo"), (20, "eth+"), (5, "eth9")));
    }

    // -------------------------------------------------------------- matches

    private string MatchKind(ProtoChoice p)
    {
        var choices = new List<(int, string)>
        {
            (8, "iprange"), (8, "length"), (7, "ttl"), (5, "tos"), (5, "dscp"), (4, "pkttype"), (6, "addrtype"),
            (8, "mark"), (10, "recent"), (7, "limit"), (5, "hashlimit"), (4, "comment"),
        };
        if (p.IsPortProto) choices.Add((9, "multiport"));
        if (batch.Conntrack)
        {
            choices.Add((12, "state"));
            choices.Add((12, "conntrack"));
            choices.Add((5, "connmark"));
            if (p.Is("tcp") || p.Is("udp") || p.Name == null) choices.Add((4, "connlimit"));
        }
        return r.Weighted(choices.ToArray());
    }

    private void ProtoOptions(Tokens t, string proto)
    {
        if (r.Chance(0.5)) t.Add("-m", proto);
        switch (proto)
        {
            case "tcp":
                if (r.Chance(0.5)) Inv(t, 0.15, "--dport", r.Pick(["22", "80", "443", "53", "8080", "81", "12345", "1024:65535", ":1023", "20:25", "80:90", "8000:"]));
                if (r.Chance(0.3)) Inv(t, 0.15, "--sport", r.Pick(["40000:49999", "20000:29999", "1024:", ":1023", "80", "22", "53", "40000:40100"]));
                int f = r.Next(10);
                if (f < 3)
                {
                    var (mask, comp) = r.Pick(s_tcpFlags);
                    Inv(t, 0.2, "--tcp-flags", mask, comp);
                }
                else if (f < 4) Inv(t, 0.3, "--syn");
                if (r.Chance(0.06)) Inv(t, 0.3, "--tcp-option", r.Pick(["2", "3", "4", "8"]));
                if (t.Last is "tcp" or "-m") t.Add("--dport", "80");
                break;
            case "udp":
                if (r.Chance(0.6)) Inv(t, 0.15, "--dport", r.Pick(["53", "123", "9999", "5353", "161", "1:1023", "9000:10000", "53:54"]));
                if (r.Chance(0.3)) Inv(t, 0.15, "--sport", r.Pick(["40000:49999", "20000:29999", "1024:", "53", "123"]));
                if (t.Last is "udp") t.Add("--sport", "1024:65535");
                break;
            case "icmp":
                Inv(t, 0.15, "--icmp-type", r.Pick(["echo-request", "echo-reply", "destination-unreachable", "port-unreachable",
                    "host-unreachable", "8", "0", "3/3", "3/1", "time-exceeded", "11/0", "parameter-problem", "source-quench",
                    "timestamp-request", "13", "any", "redirect", "fragmentation-needed", "network-prohibited"]));
                break;
        }
    }

    private static readonly (string, string)[] s_tcpFlags =
    [
        ("SYN,ACK", "SYN"), ("SYN,RST,ACK,FIN", "SYN"), ("ALL", "NONE"), ("ALL", "ALL"), ("FIN,SYN", "FIN,SYN"),
        ("SYN,RST", "SYN,RST"), ("ALL", "FIN,PSH,URG"), ("ACK", "ACK"), ("RST", "RST"), ("FIN,ACK", "FIN"),
        ("ALL", "SYN"), ("URG", "URG"), ("PSH,ACK", "PSH,ACK"), ("ALL", "ACK"), ("ALL", "RST,ACK"),
    ];

    private void Inv(Tokens t, double p, string opt, params string[] args)
    {
        if (r.Chance(p)) t.Add("!");
        t.Add(opt);
        t.Add(args);
    }

    private void Match(Tokens t, string kind, ProtoChoice p, Hook h)
    {
        t.Add("-m", kind);
        switch (kind)
        {
            case "multiport":
                var (opt, list) = r.Pick<(string, string)>([
                    ("--dports", "22,80,443"), ("--dports", "53,80:90,1000:2000"), ("--dports", "8080,81,12345"),
                    ("--dports", "1:1023"), ("--sports", "40000:45000,53"), ("--sports", "20000:25000"), ("--ports", "53,80"),
                    ("--destination-ports", "9999,123"), ("--ports", "20000:65535")]);
                Inv(t, 0.15, opt, list);
                break;
            case "iprange":
                int first = 4 * Math.Max(cs.Block, 0);
                string range = r.Weighted<Func<string>>(
                    (30, () => $"{cs.ClientAddrs[0]}-{cs.ClientAddrs[r.Range(0, cs.ClientAddrs.Count - 1)]}"),
                    (20, () => $"198.51.100.{Math.Max(1, first - r.Range(0, 20))}-198.51.100.{Math.Min(254, first + r.Range(0, 60))}"),
                    (15, () => $"{Topo.FwEth0}-{Topo.FwEth0}"),
                    (15, () => batch.Router ? $"{cs.BackendAddrs[0]}-{cs.BackendAddrs[^1]}" : "198.51.100.200-198.51.100.250"),
                    (10, () => "203.0.113.1-203.0.113.2"))();
                Inv(t, 0.2, r.Chance(0.55) ? "--src-range" : "--dst-range", range);
                break;
            case "length":
                Inv(t, 0.2, "--length", r.Pick(["0:40", "40", "28", "41:1500", "100:", ":60", "56:84", "1000:65535", "29:39"]));
                break;
            case "ttl":
                int v = r.Pick([1, 2, 32, 63, 64, 65, 128, 255]);
                switch (r.Next(4))
                {
                    case 0: t.Add("--ttl-eq", v.ToString()); break;
                    case 1: t.Add("!", "--ttl-eq", v.ToString()); break;
                    case 2: t.Add("--ttl-lt", v.ToString()); break;
                    default: t.Add("--ttl-gt", Math.Min(v, 254).ToString()); break;
                }
                break;
            case "tos":
                Inv(t, 0.2, "--tos", r.Pick(["0x10", "0x00", "Minimize-Delay", "Maximize-Throughput", "Normal-Service", "0x08/0x08", "0x20/0xe0", "0xb8"]));
                break;
            case "dscp":
                if (r.Chance(0.5)) Inv(t, 0.2, "--dscp", r.Pick(["0", "8", "10", "46", "0x2e", "0x04"]));
                else Inv(t, 0.2, "--dscp-class", r.Pick(["BE", "CS1", "AF11", "EF", "CS5", "AF41"]));
                break;
            case "pkttype":
                Inv(t, 0.2, "--pkt-type", r.Pick(["unicast", "broadcast", "multicast"]));
                break;
            case "addrtype":
                string types = r.Pick(["LOCAL", "UNICAST", "BROADCAST", "MULTICAST", "LOCAL,BROADCAST", "UNICAST,LOCAL", "UNREACHABLE", "BLACKHOLE", "LOCAL,MULTICAST,BROADCAST"]);
                bool src = r.Chance(0.5);
                Inv(t, 0.2, src ? "--src-type" : "--dst-type", types);
                if (r.Chance(0.15)) Inv(t, 0.2, src ? "--dst-type" : "--src-type", r.Pick(["LOCAL", "UNICAST"]));
                if (r.Chance(0.2))
                {
                    if (h is Hook.PREROUTING or Hook.INPUT or Hook.FORWARD && r.Chance(0.5)) t.Add("--limit-iface-in");
                    else if (h is Hook.OUTPUT or Hook.POSTROUTING or Hook.FORWARD) t.Add("--limit-iface-out");
                }
                break;
            case "mark":
            case "connmark":
                Inv(t, 0.2, "--mark", r.Pick(["0x1", "0x1/0x1", "0x10/0xf0", "0", "0x2", "0xff/0xff", "0x3/0x3"]));
                break;
            case "state":
                Inv(t, 0.1, "--state", r.Pick(s_states));
                break;
            case "conntrack":
                Conntrack(t);
                break;
            case "recent":
                Recent(t);
                break;
            case "limit":
                if (r.Chance(0.25)) t.Add("--limit", "10000/sec");
                else t.Add("--limit", r.Pick(["1/hour", "2/hour", "5/day", "3/hour", "1/day", "10/hour"]));
                if (r.Chance(0.7)) t.Add("--limit-burst", r.Pick(["1", "2", "3", "4", "6", "10"]));
                cs.Features.Add("limit");
                break;
            case "hashlimit":
                Hashlimit(t);
                break;
            case "connlimit":
                t.Add(r.Chance(0.5) ? "--connlimit-above" : "--connlimit-upto", r.Range(0, 4).ToString());
                if (r.Chance(0.4)) t.Add("--connlimit-mask", r.Pick(["32", "30", "24", "0"]));
                if (r.Chance(0.3)) t.Add(r.Chance(0.5) ? "--connlimit-daddr" : "--connlimit-saddr");
                cs.Features.Add("connlimit");
                break;
            case "comment":
                t.Add("--comment", $"c{cs.Id} " + r.Pick(["keep", "ssh guard", "web", "drop scans", "note: x=1"]));
                break;
            default:
                throw new InvalidOperationException(kind);
        }
    }

    private static readonly string[] s_states =
        ["NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED", "NEW,ESTABLISHED", "ESTABLISHED,RELATED", "INVALID,UNTRACKED", "RELATED,ESTABLISHED,NEW"];

    private void Conntrack(Tokens t)
    {
        int n = r.Weighted((60, 1), (30, 2), (10, 3));
        var used = new HashSet<int>();
        for (int i = 0; i < n; i++)
        {
            int k = r.Weighted((42, 0), (10, 1), (12, 2), (8, 3), (10, 4), (8, 5));
            if (!used.Add(k)) continue;
            switch (k)
            {
                case 0:
                    Inv(t, 0.1, "--ctstate", r.Pick([.. s_states, "DNAT", "SNAT", "NEW,DNAT", "ESTABLISHED,SNAT"]));
                    break;
                case 1:
                    string proto = r.Pick(["tcp", "udp", "icmp"]);
                    bool invert = r.Chance(0.15);
                    if (invert) t.Add("!");
                    t.Add("--ctproto", proto);
                    if (proto != "icmp" && !invert && r.Chance(0.5))
                        Inv(t, 0.15, r.Pick(["--ctorigdstport", "--ctorigsrcport", "--ctreplsrcport", "--ctrepldstport"]),
                            r.Pick(["22", "80", "53", "1024:65535", "20000:29999", "40000:49999", "8080"]));
                    break;
                case 2:
                    Inv(t, 0.15, r.Pick(["--ctorigsrc", "--ctorigdst", "--ctreplsrc", "--ctrepldst"]), AddressValue());
                    break;
                case 3:
                    Inv(t, 0.15, "--ctstatus", r.Pick(["NONE", "EXPECTED", "SEEN_REPLY", "ASSURED", "CONFIRMED", "SEEN_REPLY,ASSURED"]));
                    break;
                case 4:
                    t.Add("--ctdir", r.Pick(["ORIGINAL", "REPLY"]));
                    break;
                default:
                    Inv(t, 0.15, "--ctexpire", r.Pick(["0:1000000", "61:88", "121:148", "181:268", "601:431968", "61:431968", "500000:600000"]));
                    break;
            }
        }
        if (t.Last == "conntrack") t.Add("--ctstate", "NEW");
    }

    private void Recent(Tokens t)
    {
        string op = r.Weighted((40, "--set"), (25, "--rcheck"), (20, "--update"), (15, "--remove"));
        if (r.Chance(0.05)) t.Add("!");
        t.Add(op);
        if (op is "--rcheck" or "--update")
        {
            bool seconds = r.Chance(0.5);
            if (seconds) t.Add("--seconds", r.Pick(["90", "300", "3600"]));
            if (seconds && r.Chance(0.1)) t.Add("--reap");
            if (r.Chance(0.45)) t.Add("--hitcount", r.Range(1, 20).ToString());
            if (r.Chance(0.15)) t.Add("--rttl");
        }
        t.Add("--name", $"c{cs.Id}_{r.Pick(["a", "a", "b"])}");
        if (r.Chance(0.3)) t.Add(r.Chance(0.7) ? "--rsource" : "--rdest");
        if (r.Chance(0.1)) t.Add("--mask", r.Pick(["255.255.255.252", "255.255.255.0"]));
        cs.Features.Add("recent");
    }

    private void Hashlimit(Tokens t)
    {
        bool fast = r.Chance(0.2);
        string rate = fast ? "10000/sec" : r.Pick(["1/hour", "2/hour", "3/hour", "10/hour", "1/min"]);
        t.Add(r.Chance(0.6) ? "--hashlimit-upto" : "--hashlimit-above", rate);
        if (r.Chance(0.7)) t.Add("--hashlimit-burst", r.Pick(["1", "2", "3", "5", "8"]));
        if (r.Chance(0.75)) t.Add("--hashlimit-mode", r.Pick(["srcip", "dstip", "srcip,dstport", "srcip,dstip", "dstport", "srcip,srcport"]));
        if (r.Chance(0.2)) t.Add("--hashlimit-srcmask", r.Pick(["24", "30", "32"]));
        t.Add("--hashlimit-name", $"c{cs.Id}h{++_hashNo}");
        t.Add("--hashlimit-htable-expire", "600000");
        cs.Features.Add("hashlimit");
    }

    // -------------------------------------------------------------- targets

    private sealed record TargetChoice(string[] Words, bool NeedsTcp = false, bool NeedsPortProto = false);

    private TargetChoice Target(string table, Hook h, List<string> jumps)
    {
        var c = new List<(int, Func<TargetChoice>)>
        {
            (table == "nat" ? 8 : 14, () => new(["-j", "ACCEPT"])),
            (7, () => new(["-j", "RETURN"])),
            (10, () => new([])),
            (table == "filter" ? 10 : 6, () => Log(h)),
        };
        if (table != "nat") c.Add((table == "filter" ? 14 : 4, () => new(["-j", "DROP"])));
        if (jumps.Count > 0)
        {
            c.Add((10, () => new(["-j", r.Pick(jumps)])));
            c.Add((5, () => new(["-g", r.Pick(jumps)])));
        }
        switch (table)
        {
            case "filter":
                c.Add((12, Reject));
                c.Add((3, Mark));
                if (batch.Conntrack) c.Add((2, Connmark));
                break;
            case "mangle":
                c.Add((20, Mark));
                if (batch.Conntrack) c.Add((12, Connmark));
                break;
            case "raw":
                c.Add((6, Mark));
                if (batch.Conntrack)
                {
                    c.Add((8, () => new(["-j", "NOTRACK"])));
                    c.Add((6, () => new(["-j", "CT", "--notrack"])));
                    cs.Features.Add("notrack");
                }
                break;
            case "nat":
                if (h is Hook.PREROUTING or Hook.OUTPUT) { c.Add((14, Dnat)); c.Add((8, Redirect)); }
                if (h is Hook.POSTROUTING) { c.Add((12, Snat)); c.Add((8, () => new(["-j", "MASQUERADE"]))); }
                if (h is Hook.INPUT) c.Add((10, Snat));
                break;
        }
        return r.Weighted(c.ToArray())();
    }

    private TargetChoice Log(Hook h)
    {
        var w = new List<string> { "-j", "LOG", "--log-prefix", $"{batch.Tag}c{cs.Id}r{++_logNo} " };
        if (r.Chance(0.5)) w.AddRange(["--log-level", r.Pick(["4", "6", "info", "debug", "7", "notice", "warning", "5", "3"])]);
        if (LogTcpDetailsAllowed(cs, h))
        {
            if (r.Chance(0.1)) w.Add("--log-tcp-sequence");
            if (r.Chance(0.1)) w.Add("--log-tcp-options");
        }
        if (r.Chance(0.1)) w.Add("--log-ip-options");
        if (r.Chance(0.1)) w.Add("--log-uid");
        if (r.Chance(0.05)) w.Add("--log-macdecode");
        cs.Features.Add("log");
        return new([.. w]);
    }

    /// <summary>LOG options that print kernel-chosen TCP values; allowed only where <see cref="LogTcpDetailsAllowed"/>.</summary>
    public static bool LogTcpDetailsAllowed(CaseSpec c, Hook h) => !c.IsTail && h is Hook.PREROUTING or Hook.INPUT or Hook.FORWARD;

    private TargetChoice Reject()
    {
        cs.Features.Add("reject");
        if (r.Chance(0.35)) return new(["-j", "REJECT", "--reject-with", "tcp-reset"], NeedsTcp: true);
        cs.Features.Add("reject-icmp");
        if (r.Chance(0.3)) return new(["-j", "REJECT"]);
        return new(["-j", "REJECT", "--reject-with", r.Pick(["icmp-net-unreachable", "icmp-host-unreachable", "icmp-port-unreachable",
            "icmp-proto-unreachable", "icmp-net-prohibited", "icmp-host-prohibited", "icmp-admin-prohibited"])]);
    }

    private TargetChoice Mark()
    {
        cs.Features.Add("mark");
        return new(["-j", "MARK", .. r.Pick<string[]>([["--set-mark", "0x1"], ["--set-mark", "0x10/0xf0"], ["--set-xmark", "0x2/0xff"],
            ["--and-mark", "0xf0"], ["--or-mark", "0x1"], ["--xor-mark", "0x3"], ["--set-mark", "0x2"]])]);
    }

    private TargetChoice Connmark()
    {
        cs.Features.Add("connmark");
        return new(["-j", "CONNMARK", .. r.Pick<string[]>([["--set-mark", "0x1"], ["--set-mark", "0x4/0xf"], ["--save-mark"], ["--restore-mark"],
            ["--save-mark", "--nfmask", "0xff", "--ctmask", "0xff"], ["--restore-mark", "--mask", "0xf"], ["--or-mark", "0x8"],
            ["--and-mark", "0xfe"], ["--xor-mark", "0x1"]])]);
    }

    /// <summary>NAT targets: addresses the case owns or the firewall's, so replies stay with the case.</summary>
    private TargetChoice Dnat()
    {
        cs.Features.Add("nat");
        string addr = batch.Router && r.Chance(0.6) ? r.Pick(cs.BackendAddrs) : r.Pick([Topo.FwEth0, Topo.FwEth1]);
        if (r.Chance(0.4))
            return new(["-j", "DNAT", "--to-destination", addr + ":" + r.Pick(["80", "22", "8080", "53", "9999", "2000-2010"])], NeedsPortProto: true);
        return new(["-j", "DNAT", "--to-destination", addr]);
    }

    private TargetChoice Redirect()
    {
        cs.Features.Add("nat");
        if (r.Chance(0.5)) return new(["-j", "REDIRECT", "--to-ports", r.Pick(["22", "80", "8080", "53", "9999", "3000-3005"])], NeedsPortProto: true);
        return new(["-j", "REDIRECT"]);
    }

    private TargetChoice Snat()
    {
        cs.Features.Add("nat");
        var pool = new List<string>(cs.ClientAddrs) { Topo.FwEth0 };
        if (batch.Router) { pool.AddRange(cs.BackendAddrs); pool.Add(Topo.FwEth1); }
        return new(["-j", "SNAT", "--to-source", r.Pick(pool)]);
    }
}

/// <summary>Words of a rule; printed the way iptables-save quotes them.</summary>
internal sealed class Tokens
{
    private readonly List<string> _w = [];

    public void Add(params string[] words) => _w.AddRange(words);
    public string? Last => _w.Count == 0 ? null : _w[^1];

    public override string ToString() =>
        string.Join(' ', _w.Select(w => w.Length == 0 || w.Contains(' ') ? "\"" + w + "\"" : w));
}
