using System.Text.Json.Nodes;

namespace SharpTables.DiffTest.Generation;

/// <summary>
/// Random packet flows for one case, in the oracle scenario format (../shared/oracle/README.md).
/// Every line names its <c>src</c> and <c>dst</c>; every packet is from or to one of the case's own
/// addresses, so the dispatch rules send it to the case's chains.
/// <para>Robustness rules (the scenario must give the same kernel result on every run):</para>
/// <list type="bullet">
/// <item>ICMP errors the firewall sends (REJECT, closed UDP ports, unknown protocols, TTL expiry when it
/// forwards) are rate
/// limited per destination: 6 at once, then one per second. So each source address may send at most
/// <see cref="IcmpBudget"/> packets that could draw one; beyond that the flow is not generated.</item>
/// <item>Multi-line conversations (handshakes, request/reply, ICMP errors quoting an earlier packet) use
/// explicit source ports from the case's own range and stay together in the scenario.</item>
/// <item>Every own address a packet is sent to, or a DNAT rule points at, also sends a packet, because the
/// oracle only creates static neighbour entries for packet sources (no ARP during a run).</item>
/// <item>No ICMP fragmentation-needed or redirect is sent to the firewall itself (it would change its
/// route cache for later packets).</item>
/// </list>
/// </summary>
internal sealed class FlowGenerator(Rng r, BatchSpec batch, CaseSpec cs, Func<int> nextPort)
{
    /// <summary>Packets per source address that may draw a rate-limited ICMP error (the kernel's burst is 6).</summary>
    public const int IcmpBudget = 6;

    /// <summary>Ports with a listener in the firewall namespace (see <see cref="BatchGenerator"/>).</summary>
    public static readonly int[] FwTcpListeners = [22, 80];
    public static readonly int[] FwUdpListeners = [53];

    private readonly Dictionary<string, int> _icmpCost = [];
    private readonly HashSet<string> _sources = [];
    private readonly HashSet<string> _targets = [];

    private string A() => r.Pick(cs.ClientAddrs);
    private string B() => r.Pick(cs.BackendAddrs);

    /// <summary>Adds the case's flows to <see cref="CaseSpec.Flows"/>.</summary>
    public void Generate(int flows, int connects)
    {
        for (int i = 0; i < connects; i++) Add(Connect());
        for (int i = 0; i < flows; i++)
        {
            var kinds = new List<(int, Func<List<JsonObject>?>)>
            {
                (22, SingleTcp), (12, SingleUdp), (10, Icmp), (12, Burst), (8, HandshakeViaFw), (8, IcmpError),
                (5, Fragment), (3, OddProtocol), (3, Broadcast),
            };
            if (batch.Router) { kinds.Add((12, HandshakeThrough)); kinds.Add((6, UdpExchange)); }
            Add(r.Weighted(kinds.ToArray())());
        }
        Prime();
    }

    private void Add(List<JsonObject>? lines)
    {
        if (lines == null || lines.Count == 0) return;
        // Budget check for the whole flow: all or nothing.
        var cost = new Dictionary<string, int>();
        foreach (var l in lines)
            if (IcmpCost(l) is > 0 and var c) cost[(string)l["src"]!] = cost.GetValueOrDefault((string)l["src"]!) + c;
        foreach (var (src, c) in cost)
            if (_icmpCost.GetValueOrDefault(src) + c > IcmpBudget) return;
        foreach (var (src, c) in cost) _icmpCost[src] = _icmpCost.GetValueOrDefault(src) + c;
        foreach (var l in lines)
        {
            if ((string?)l["type"] == "tcp_connect") continue;
            _sources.Add((string)l["src"]!);
            _targets.Add((string)l["dst"]!);
        }
        cs.Flows.Add(lines);
    }

    /// <summary>How many ICMP errors towards the line's source the firewall might send for it (conservatively).</summary>
    private int IcmpCost(JsonObject l)
    {
        if ((string?)l["type"] == "tcp_connect") return 0;
        string src = (string)l["src"]!;
        if (!cs.ClientAddrs.Contains(src) && !cs.BackendAddrs.Contains(src)) return 0;
        string proto = (string?)l["proto"] ?? "tcp";
        if (proto == "icmp" && (int?)l["icmp_type"] is 3 or 4 or 5 or 11 or 12) return 0;
        if ((int?)l["frag"] is > 0) return 0;
        int count = (int?)l["count"] ?? 1;
        string dir = (string)l["dir"]!;
        bool toFw = dir is "in" or "local";
        bool risky = cs.Features.Contains("reject-icmp") || cs.Features.Contains("nat") && proto != "tcp" && proto != "icmp"
            || toFw && proto == "udp" && !FwUdpListeners.Contains((int?)l["dport"] ?? 53)
            || toFw && proto is not ("tcp" or "udp" or "icmp")
            || (int?)l["ttl"] is <= 1;
        return risky ? count : 0;
    }

    /// <summary>Own addresses that receive packets (or are DNAT targets) also send one: the oracle then knows their neighbour entry.</summary>
    private void Prime()
    {
        var need = new List<string>();
        foreach (var a in cs.ClientAddrs.Concat(cs.BackendAddrs))
        {
            bool target = _targets.Contains(a) || cs.Tables.Values.Any(t => t.Chains.Any(c => c.Rules.Any(x => x.Contains("--to-destination " + a))));
            if (target && !_sources.Contains(a)) need.Add(a);
        }
        foreach (var a in need)
        {
            bool backend = cs.BackendAddrs.Contains(a);
            var p = Packet("in", a, backend ? Topo.FwEth1 : Topo.FwEth0, "tcp");
            if (backend) p["iface"] = "eth1";
            p["dport"] = 443;
            p["flags"] = "A";
            var flow = new List<JsonObject> { p };
            int before = cs.Flows.Count;
            Add(flow);
            if (cs.Flows.Count == before)
            {
                // Out of ICMP budget: send an ICMP error instead (never answered).
                var e = Packet(p["dir"]!.ToString(), a, (string)p["dst"]!, "icmp");
                if (backend) e["iface"] = "eth1";
                e["icmp_type"] = 3;
                e["icmp_code"] = 3;
                e["quote"] = new JsonObject { ["src"] = (string)p["dst"]!, ["dst"] = a, ["proto"] = "udp", ["sport"] = 33000, ["dport"] = 33001 };
                Add([e]);
            }
            // Priming packets go first so every later packet finds the address known (the order is not needed by
            // the oracle, which sets neighbours up front, but keeps the case readable).
            if (cs.Flows.Count > before)
            {
                var last = cs.Flows[^1];
                cs.Flows.RemoveAt(cs.Flows.Count - 1);
                cs.Flows.Insert(0, last);
            }
        }
    }

    // ---------------------------------------------------------------- helpers

    private static JsonObject Packet(string dir, string src, string dst, string proto) =>
        new() { ["dir"] = dir, ["src"] = src, ["dst"] = dst, ["proto"] = proto };

    /// <summary>A direction and its endpoints: the case's own address is the source or the destination.</summary>
    private (string Dir, string Src, string Dst, string? Iface) Endpoints(bool allowLocal = true)
    {
        var choices = new List<(int, string)> { (55, "in"), (20, "out") };
        if (allowLocal) choices.Add((8, "local"));
        if (batch.Router) { choices.Add((25, "fwd")); choices.Add((15, "fwd-rev")); choices.Add((8, "in1")); choices.Add((4, "out1")); }
        return r.Weighted(choices.ToArray()) switch
        {
            "in" => ("in", A(), r.Weighted((92, Topo.FwEth0), (8, batch.Router ? Topo.FwEth1 : Topo.FwEth0)), null),
            "out" => ("out", Topo.FwEth0, A(), null),
            "local" => ("local", A(), r.Chance(0.8) ? Topo.FwEth0 : (batch.Router ? Topo.FwEth1 : Topo.FwEth0), null),
            "fwd" => ("fwd", A(), B(), null),
            "fwd-rev" => ("fwd-rev", B(), A(), null),
            "in1" => ("in", B(), Topo.FwEth1, "eth1"),
            _ => ("out", Topo.FwEth1, B(), null),
        };
    }

    private JsonObject Start(string proto, bool allowLocal = true)
    {
        var (dir, src, dst, iface) = Endpoints(allowLocal);
        var p = Packet(dir, src, dst, proto);
        if (iface != null) p["iface"] = iface;
        return p;
    }

    /// <summary>TTL, TOS, DF and size variety on a packet.</summary>
    private void Vary(JsonObject p)
    {
        if (r.Chance(0.2)) p["ttl"] = r.Pick([1, 2, 32, 63, 128, 255, 65]);
        if (r.Chance(0.15)) p["tos"] = r.Pick([0x10, 0x08, 0x04, 0x02, 0xb8, 0x28, 0x20, 0xe0, 0x01]);
        if (r.Chance(0.1)) p["ip_flags"] = "DF";
        if (r.Chance(0.3)) p["payload_len"] = r.Pick([1, 8, 20, 100, 200, 512, 1000, 1400]);
    }

    private static readonly (int, string)[] s_flags =
    [
        (30, "S"), (8, "SA"), (10, "A"), (6, "R"), (4, "RA"), (4, "F"), (5, "FA"), (6, "PA"), (4, "FPU"), (3, "ALL"),
        (3, "NONE"), (3, "SF"), (3, "SR"), (2, "U"), (2, "SEC"), (1, "FSRPAUEC"), (1, "P"), (1, "SAF"), (1, "SRA"),
    ];

    private int TcpPort() => r.Weighted((20, 22), (20, 80), (8, 443), (8, 81), (8, 8080), (6, 12345), (4, 25), (6, r.Range(1024, 65535)), (4, 53));
    private int UdpPort() => r.Weighted((25, 53), (15, 9999), (10, 123), (8, 5353), (6, 161), (6, r.Range(1024, 65535)), (4, 67));

    // ------------------------------------------------------------------ flows

    private List<JsonObject>? SingleTcp()
    {
        var p = Start("tcp");
        p["flags"] = r.Weighted(s_flags);
        p["dport"] = TcpPort();
        if (r.Chance(0.2)) p["sport"] = r.Pick([53, 80, 22, 1023, 20000 + r.Next(10000)]);
        if (r.Chance(0.05)) p["tcp_options"] = r.Pick<JsonNode>([
            new JsonArray(new JsonArray("MSS", 1460)), new JsonArray(new JsonArray("WScale", 7), new JsonArray("NOP", null)),
            new JsonArray(new JsonArray("MSS", 536), new JsonArray("NOP", null), new JsonArray("NOP", null))]).DeepClone();
        Vary(p);
        return [p];
    }

    private List<JsonObject>? SingleUdp()
    {
        var p = Start("udp");
        p["dport"] = UdpPort();
        if (r.Chance(0.25)) p["sport"] = r.Pick([53, 123, 68, 20000 + r.Next(10000)]);
        Vary(p);
        return [p];
    }

    private List<JsonObject>? Icmp()
    {
        var p = Start("icmp");
        int type = r.Weighted((60, 8), (10, 0), (10, 13), (5, 9), (5, 10), (5, 17), (5, 15));
        if (type != 8) p["icmp_type"] = type;
        if (r.Chance(0.1)) p["icmp_code"] = r.Pick([1, 5]);
        if (r.Chance(0.2)) p["icmp_seq"] = r.Range(1, 1000);
        Vary(p);
        return [p];
    }

    /// <summary>The same packet several times from one source: for recent, limit, hashlimit and connlimit.</summary>
    private List<JsonObject>? Burst()
    {
        var flow = r.Weighted<Func<List<JsonObject>?>>((50, SingleTcp), (25, SingleUdp), (25, Icmp))();
        var p = flow![0];
        // Cases that REJECT with ICMP errors keep bursts within the per-address error budget.
        p["count"] = cs.Features.Contains("reject-icmp") ? r.Range(3, IcmpBudget) : r.Range(3, 10);
        // Packets of a burst are 20 ms or more apart. Closer packets can overtake each other when the machine is
        // busy (the sender moves to the other CPU while the first CPU's softirq work is still queued), and
        // nf_conncount skips its garbage collection for packets within one jiffy.
        p["interval_ms"] = r.Pick([20, 25, 40]);
        // Same source port every time (one connection) now and then; otherwise each packet gets a new one.
        if (r.Chance(0.3) && (string)p["proto"]! != "icmp") p["sport"] = nextPort();
        return flow;
    }

    /// <summary>A TCP conversation with the firewall itself: to a listener or a closed port, or from the firewall.</summary>
    private List<JsonObject>? HandshakeViaFw()
    {
        int sport = nextPort();
        if (r.Chance(0.65))
        {
            // Client side: SYN to the firewall; it answers SYN-ACK (listener, random ISN) or RST.
            string a = A();
            int dport = r.Chance(0.6) ? r.Pick(FwTcpListeners) : r.Pick([81, 443, 12345]);
            var syn = Packet(r.Chance(0.85) ? "in" : "local", a, Topo.FwEth0, "tcp");
            syn["sport"] = sport; syn["dport"] = dport; syn["flags"] = "S"; syn["seq"] = 5000;
            Vary(syn);
            var flow = new List<JsonObject> { syn };
            if (r.Chance(0.7))
            {
                var next = Packet((string)syn["dir"]!, a, Topo.FwEth0, "tcp");
                next["sport"] = sport; next["dport"] = dport; next["seq"] = 5001;
                // The firewall's ISN is random, so after a listener's SYN-ACK a segment with ACK would be in or out of
                // conntrack's window by chance: only segments without ACK follow it. A closed port answers with a RST
                // of known sequence number, so anything may follow that.
                bool listener = FwTcpListeners.Contains(dport);
                next["flags"] = listener ? r.Pick(["R", "F", "S", "RP", "FU"]) : r.Pick(["A", "R", "PA", "FA", "S"]);
                flow.Add(next);
            }
            return flow;
        }
        else
        {
            // Firewall side: the raw socket sends a SYN to the case; the case answers SYN-ACK with the right ack
            // (conntrack: ESTABLISHED) and the firewall's own stack, with no socket, resets it.
            string a = A();
            int dport = TcpPort();
            var syn = Packet("out", Topo.FwEth0, a, "tcp");
            syn["sport"] = sport; syn["dport"] = dport; syn["flags"] = "S"; syn["seq"] = 7000;
            var synack = Packet("in", a, Topo.FwEth0, "tcp");
            synack["sport"] = dport; synack["dport"] = sport; synack["flags"] = "SA"; synack["seq"] = 9000; synack["ack"] = 7001;
            var flow = new List<JsonObject> { syn, synack };
            if (r.Chance(0.4))
            {
                var ack = Packet("out", Topo.FwEth0, a, "tcp");
                ack["sport"] = sport; ack["dport"] = dport; ack["flags"] = "A"; ack["seq"] = 7001; ack["ack"] = 9001;
                flow.Add(ack);
            }
            return flow;
        }
    }

    /// <summary>A complete crafted TCP handshake through the router (seq/ack consistent), then data and a close.</summary>
    private List<JsonObject>? HandshakeThrough()
    {
        bool fromClient = r.Chance(0.7);
        string a = A(), b = B();
        string there = fromClient ? "fwd" : "fwd-rev", back = fromClient ? "fwd-rev" : "fwd";
        string src = fromClient ? a : b, dst = fromClient ? b : a;
        int sport = nextPort(), dport = TcpPort();
        uint isn = 1000, risn = 50000;
        JsonObject P(string dir, bool forward, string flags, uint seq, uint ack, int payload = 0)
        {
            var p = Packet(dir, forward ? src : dst, forward ? dst : src, "tcp");
            p["sport"] = forward ? sport : dport; p["dport"] = forward ? dport : sport;
            p["flags"] = flags; p["seq"] = seq;
            if (flags.Contains('A')) p["ack"] = ack;
            if (payload > 0) p["payload_len"] = payload;
            return p;
        }
        var flow = new List<JsonObject>
        {
            P(there, true, "S", isn, 0),
            P(back, false, "SA", risn, isn + 1),
            P(there, true, "A", isn + 1, risn + 1),
        };
        int stage = r.Weighted((20, 0), (40, 1), (25, 2), (15, 3));
        uint seq = isn + 1;
        if (stage >= 1)
        {
            int len = r.Pick([10, 100, 500]);
            flow.Add(P(there, true, "PA", seq, risn + 1, len));
            seq += (uint)len;
            flow.Add(P(back, false, "A", risn + 1, seq));
        }
        if (stage == 2)
        {
            flow.Add(P(there, true, "FA", seq, risn + 1));
            flow.Add(P(back, false, "FA", risn + 1, seq + 1));
            flow.Add(P(there, true, "A", seq + 1, risn + 2));
        }
        if (stage == 3)
        {
            bool forward = r.Chance(0.5);
            flow.Add(P(forward ? there : back, forward, "R", forward ? seq : risn + 1, 0));
        }
        // Occasionally an out-of-window or invalid packet on the same connection.
        if (r.Chance(0.15)) flow.Add(P(there, true, r.Pick(["A", "PA", "S"]), seq + 100000, risn + 1, 10));
        return flow;
    }

    /// <summary>A UDP request and its reply (the reply makes the connection ESTABLISHED).</summary>
    private List<JsonObject>? UdpExchange()
    {
        string a = A(), b = B();
        int sport = nextPort(), dport = r.Pick([53, 123, 5353, 9999]);
        bool fromClient = r.Chance(0.7);
        var q = Packet(fromClient ? "fwd" : "fwd-rev", fromClient ? a : b, fromClient ? b : a, "udp");
        q["sport"] = sport; q["dport"] = dport;
        var ans = Packet(fromClient ? "fwd-rev" : "fwd", fromClient ? b : a, fromClient ? a : b, "udp");
        ans["sport"] = dport; ans["dport"] = sport;
        if (r.Chance(0.5)) ans["payload_len"] = r.Pick([12, 60, 300]);
        var flow = new List<JsonObject> { q, ans };
        if (r.Chance(0.4))
        {
            var again = (JsonObject)q.DeepClone();
            again["count"] = r.Range(2, 4);
            again["interval_ms"] = 20;
            flow.Add(again);
        }
        return flow;
    }

    /// <summary>An ICMP error quoting an earlier packet of the flow (RELATED), or quoting nothing known.</summary>
    private List<JsonObject>? IcmpError()
    {
        int sport = nextPort();
        var choices = new List<(int, int)> { (35, 0), (30, 1), (15, 3) };
        if (batch.Router) choices.Add((35, 2));
        int kind = r.Weighted(choices.ToArray());
        string a = A();
        var flow = new List<JsonObject>();
        JsonObject err;
        (int, int) ToFw() => r.Pick([(3, 3), (3, 1), (3, 0), (3, 13), (11, 0), (12, 0), (4, 0), (3, 10)]);
        switch (kind)
        {
            case 0:
            {
                // The firewall sent UDP to the case; the case says "port unreachable".
                string proto = r.Chance(0.7) ? "udp" : "tcp";
                int dport = proto == "udp" ? UdpPort() : TcpPort();
                var orig = Packet("out", Topo.FwEth0, a, proto);
                orig["sport"] = sport; orig["dport"] = dport;
                if (proto == "tcp") orig["flags"] = "S";
                flow.Add(orig);
                err = Packet("in", a, Topo.FwEth0, "icmp");
                (int t, int c) = ToFw();
                err["icmp_type"] = t; err["icmp_code"] = c;
                err["quote"] = new JsonObject { ["src"] = Topo.FwEth0, ["dst"] = a, ["proto"] = proto, ["sport"] = sport, ["dport"] = dport };
                break;
            }
            case 1:
            {
                // The case sent a SYN to the firewall, which answered; the case sends an error about the answer.
                int dport = r.Chance(0.5) ? r.Pick(FwTcpListeners) : 81;
                var syn = Packet("in", a, Topo.FwEth0, "tcp");
                syn["sport"] = sport; syn["dport"] = dport; syn["flags"] = "S";
                flow.Add(syn);
                err = Packet("in", a, Topo.FwEth0, "icmp");
                (int t, int c) = ToFw();
                err["icmp_type"] = t; err["icmp_code"] = c;
                err["quote"] = new JsonObject { ["src"] = Topo.FwEth0, ["dst"] = a, ["proto"] = "tcp", ["sport"] = dport, ["dport"] = sport };
                break;
            }
            case 2:
            {
                // Forwarded packet, error from the backend side (forwarded back: RELATED).
                string b = B();
                string proto = r.Chance(0.6) ? "udp" : "tcp";
                int dport = proto == "udp" ? UdpPort() : TcpPort();
                var orig = Packet("fwd", a, b, proto);
                orig["sport"] = sport; orig["dport"] = dport;
                if (proto == "tcp") orig["flags"] = "S";
                flow.Add(orig);
                err = Packet("fwd-rev", b, a, "icmp");
                (int t, int c) = r.Pick([(3, 3), (3, 1), (3, 4), (11, 0), (12, 0), (3, 13), (5, 1)]);
                err["icmp_type"] = t; err["icmp_code"] = c;
                err["quote"] = new JsonObject { ["src"] = a, ["dst"] = b, ["proto"] = proto, ["sport"] = sport, ["dport"] = dport };
                break;
            }
            default:
            {
                // An error about a connection that never existed.
                err = Packet("in", a, Topo.FwEth0, "icmp");
                (int t, int c) = ToFw();
                err["icmp_type"] = t; err["icmp_code"] = c;
                err["quote"] = new JsonObject { ["src"] = Topo.FwEth0, ["dst"] = a, ["proto"] = r.Pick(["udp", "tcp"]), ["sport"] = sport, ["dport"] = r.Range(1, 65535) };
                break;
            }
        }
        if (r.Chance(0.2)) err["ttl"] = r.Pick([1, 32, 255]);
        flow.Add(err);
        return flow;
    }

    /// <summary>IP fragments: a first fragment (MF, offset 0) or a later one; none of them ever completes a datagram.</summary>
    private List<JsonObject>? Fragment()
    {
        var p = Start(r.Weighted((40, "tcp"), (35, "udp"), (25, "icmp")), allowLocal: false);
        if ((string)p["proto"]! == "tcp") { p["flags"] = r.Pick(["S", "A", "SA"]); p["dport"] = TcpPort(); }
        if ((string)p["proto"]! == "udp") p["dport"] = UdpPort();
        if (r.Chance(0.45))
        {
            p["ip_flags"] = "MF";
            p["frag"] = 0;
        }
        else
        {
            p["frag"] = r.Pick([1, 2, 3, 10, 100, 185]);
            if (r.Chance(0.5)) p["ip_flags"] = "MF";
        }
        p["payload_len"] = r.Pick([8, 16, 64, 200]);
        return [p];
    }

    private List<JsonObject>? OddProtocol()
    {
        var p = Start(r.Pick(["47", "132", "50", "253"]));
        if (r.Chance(0.5)) p["payload_len"] = r.Pick([8, 40]);
        return [p];
    }

    /// <summary>Broadcast and multicast destinations (addrtype, pkttype, no ICMP replies).</summary>
    private List<JsonObject>? Broadcast()
    {
        var p = Packet("in", A(), r.Pick(["198.51.100.255", "255.255.255.255", "224.0.0.1", "224.0.0.251"]), r.Pick(["udp", "icmp"]));
        if ((string)p["proto"]! == "udp") p["dport"] = UdpPort();
        return [p];
    }

    /// <summary>
    /// A real kernel TCP connection (tail case only: real sockets cannot use spoofed addresses), always to a closed
    /// port. A connection to a listener is not deterministic: the listener closes when its 50 ms poll loop gets
    /// round to it, so the peer's delayed ACK of the FIN is sometimes sent alone and sometimes merged into the
    /// FIN. A refused connection (SYN, RST) or a dropped one (one SYN, then the 900 ms timeout) always looks the same.
    /// </summary>
    private List<JsonObject>? Connect()
    {
        var choices = new List<(int, Func<JsonObject>)>
        {
            (70, () => new JsonObject { ["type"] = "tcp_connect", ["dir"] = "in", ["dport"] = r.Pick([81, 443, 8081]) }),
            (15, () => new JsonObject { ["type"] = "tcp_connect", ["dir"] = "out", ["dst"] = Topo.Client, ["dport"] = 8081 }),
        };
        if (batch.Router)
            choices.Add((15, () => new JsonObject { ["type"] = "tcp_connect", ["dir"] = "fwd", ["dst"] = Topo.Backend, ["dport"] = 81 }));
        var c = r.Weighted(choices.ToArray())();
        // A bound source port: the kernel's own pick is random and, for a refused connection, not reported.
        c["sport"] = nextPort();
        return [c];
    }
}
