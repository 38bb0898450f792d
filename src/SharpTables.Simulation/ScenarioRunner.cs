using System.Text.Json;
using System.Text.Json.Nodes;
using SharpTables.Engine;
using SharpTables.Packets;
using SharpTables.Rules.Model;

namespace SharpTables.Simulation;

/// <summary>Options of a scenario run.</summary>
public sealed class ScenarioOptions
{
    /// <summary>Oracle result whose topology (MACs) and per-line/per-packet times the run reproduces.</summary>
    public JsonElement? OracleResult { get; init; }
    /// <summary>Pause after each packet line, as oracle-run's --settle-ms (ms).</summary>
    public double SettleMs { get; init; } = 30;
    /// <summary>Time the oracle's per-line counter snapshot takes (ms), used when no oracle timing is given.</summary>
    public double SnapshotMs { get; init; } = 8;
    /// <summary>Called for every rule a scenario packet traverses (--trace).</summary>
    public Action<long, string>? Trace { get; init; }
    /// <summary>
    /// The first TCP initial sequence number the fw's stack chooses. The kernel's are random, so a crafted
    /// packet that acknowledges the fw's SYN-ACK wrongly is out of conntrack's window above or below at
    /// random; a second run with the base moved by 2^31 shows the other outcome.
    /// </summary>
    public uint IsnBase { get; init; } = DefaultIsnBase;
    /// <summary>
    /// Scenario lines whose packets make the fw choose ISNs 2^31 away from the usual ones (--isn-flip):
    /// the kernel draws each connection's ISN on its own, so one run can put some connections in
    /// one half and the rest in the other. The lines that made the fw choose an ISN at all are
    /// reported in the result's <c>isn_lines</c>.
    /// </summary>
    public IReadOnlySet<int> IsnFlipLines { get; init; } = new HashSet<int>();
    /// <summary>
    /// Where the fw's jiffy boundaries fall, in ms into the first jiffy (--clock-phase, 0 to 4):
    /// the recorded times do not tell, and the kernel's whole-jiffy back-offs (ICMP redirects)
    /// can decide differently for packets a few ms apart.
    /// </summary>
    public double ClockPhaseMs { get; init; }
    /// <summary>The first initial sequence number a simulated stack chooses unless told otherwise.</summary>
    public const uint DefaultIsnBase = 0x10000000;
}

/// <summary>
/// Runs an oracle scenario through the engine: the fw host (the ruleset), its client and, in
/// router mode, its backend, with the packets the hosts' kernels would answer. Produces a
/// result shaped like oracle-run's JSON so the two compare directly.
/// </summary>
public sealed class ScenarioRunner : IEngineObserver
{
    private readonly List<ScenarioItem> _items;
    private readonly ScenarioOptions _options;
    private readonly ManualTime _time = new();
    private readonly Topology _topo;
    private readonly bool _v6Needed;
    private readonly NetfilterEngine _engine;
    private readonly Ruleset _v4;
    private readonly Ruleset? _v6;
    private readonly HostStack _fw, _client, _backend;
    /// <summary>The scenario line being run, and the lines during which the fw chose a TCP ISN.</summary>
    private int _line;
    private readonly SortedSet<int> _isnLines = [];
    private readonly List<(int Level, string Text, long Packet)> _log = [];
    private readonly Dictionary<int, double> _lineTimes = new();
    private readonly Dictionary<int, double> _packetTimes = new();
    private int _work;
    private PacketResult? _firstResult;
    // One packet context for every send: each send copies what it needs out of it before the
    // answers it triggers (which reuse it) are sent.
    private readonly Packet _packet = new();

    private string RuleText(PacketResult r)
    {
        var fam = r.Family == 6 ? _engine.Ruleset.IPv6 : _engine.Ruleset.IPv4;
        var chain = fam.Table(r.Table!)?.Chain(r.Chain!);
        return chain != null && r.Rule > 0 && r.Rule <= chain.RuleCount ? chain.RuleText(r.Rule - 1) : "";
    }

    public ScenarioRunner(Ruleset ipv4, Ruleset? ipv6, string scenarioText, ScenarioOptions? options = null)
    {
        _options = options ?? new ScenarioOptions();
        _items = Scenario.Parse(scenarioText);
        bool router = _items.Any(i => i.Type is "packet" or "tcp_connect" && (i.Dir is "fwd" or "fwd-rev" || i.Str("iface") == "eth1")
                                   || i.Type == "listen" && i.Str("ns") == "backend");
        _v6Needed = ipv6 != null || _items.Any(i => i.Type is "packet" or "tcp_connect" or "listen" && ScenarioPackets.IsV6(i));
        _topo = _options.OracleResult is JsonElement r ? Topology.FromOracleResult(r, router) : new Topology { Router = router };
        if (_options.OracleResult is JsonElement res) ReadTimes(res);
        var net = _topo.BuildFirewall();
        var state = new EngineState(_time, net, clockPhase: TimeSpan.FromMilliseconds(_options.ClockPhaseMs)) { Observer = this };
        _v4 = ipv4;
        _v6 = ipv6;
        _engine = new NetfilterEngine(state, CompiledRuleset.Compile(state, ipv4, ipv6));
        _fw = new HostStack("fw", quiet: false, SharpTables.Engine.Targets.IcmpRateLimiter.For(state), net.IsLocal, () => Now, _options.IsnBase)
        {
            IsnChosen = isn =>
            {
                _isnLines.Add(_line);
                return _options.IsnFlipLines.Contains(_line) ? isn + 0x80000000u : isn;
            },
        };
        _client = new HostStack("client", quiet: true, null, (v, a) => a == Topology.Address("client/eth0", v == 6));
        _backend = new HostStack("backend", quiet: true, null, (v, a) => a == Topology.Address("backend/eth0", v == 6));
    }

    public NetfilterEngine Engine => _engine;

    bool IEngineObserver.Tracing => _options.Trace != null;

    void IEngineObserver.OnLog(in LogRecord record) => _log.Add((record.Level, record.Text, record.PacketNumber));

    void IEngineObserver.OnTrace(Packet p, string table, string chain, TraceKind kind, int ruleNumber)
    {
        if (p.Number <= 0) return;
        string what = kind switch { TraceKind.Rule => $"rule:{ruleNumber}", TraceKind.Return => "return", _ => "policy" };
        _options.Trace?.Invoke(p.Number, $"{table}:{chain}:{what}");
    }

    private readonly Dictionary<int, (ushort Port, uint FlowLabel)> _connectRandom = new();

    private void ReadTimes(JsonElement res)
    {
        if (!res.TryGetProperty("lines", out var lines)) return;
        foreach (var l in lines.EnumerateArray())
        {
            if (l.TryGetProperty("connect", out var c) && c.ValueKind == JsonValueKind.Object && c.TryGetProperty("local", out var local))
            {
                string text = local.GetString()!;
                ushort port = ushort.Parse(text[(text.LastIndexOf(':') + 1)..]);
                uint flow = 0;
                if (l.TryGetProperty("log", out var logs))
                    foreach (var lg in logs.EnumerateArray())
                    {
                        string logText = lg.ValueKind == JsonValueKind.String ? lg.GetString()! : lg.TryGetProperty("text", out var tt) ? tt.GetString()! : "";
                        var m = System.Text.RegularExpressions.Regex.Match(logText, $@"FLOWLBL=(\d+) .*SPT={port} ");
                        if (m.Success) flow = uint.Parse(m.Groups[1].Value);
                    }
                _connectRandom[l.GetProperty("line").GetInt32()] = (port, flow);
            }
            if (l.TryGetProperty("t_ms", out var t)) _lineTimes[l.GetProperty("line").GetInt32()] = t.GetDouble();
            if (l.TryGetProperty("packets", out var ps) && ps.ValueKind == JsonValueKind.Array)
                foreach (var p in ps.EnumerateArray())
                    if (p.TryGetProperty("t_ms", out var pt)) _packetTimes[p.GetProperty("n").GetInt32()] = pt.GetDouble();
        }
    }

    private double Now => _time.GetTimestamp() / (double)TimeSpan.TicksPerMillisecond;

    private void AdvanceTo(double ms)
    {
        if (ms > Now) _time.AdvanceMilliseconds(ms - Now);
    }

    /// <summary>Runs the scenario and returns the oracle-shaped result.</summary>
    public JsonObject Run()
    {
        foreach (var it in _items.Where(i => i.Type == "listen"))
        {
            var node = it.Str("ns") switch { "client" => _client, "backend" => _backend, _ => _fw };
            var set = it.Str("proto") == "udp" ? node.UdpListen : node.TcpListen;
            ushort port = (ushort)it.Num("port", 0);
            set.Add((4, port));
            // oracle-run opens the IPv6 socket too whenever its topology has IPv6 (rules6 given, or IPv6 packets).
            if (it.Bool("ipv6") || _v6Needed) set.Add((6, port));
        }
        var lines = new JsonArray();
        int n = 0;
        var before = Snapshot();
        // The clock only moves forward, so the estimated pauses (settle, snapshot, burst interval)
        // are taken only where the oracle's result does not give the next time: otherwise a run
        // without per-line snapshots, whose lines are closer than the estimate, would leave our
        // clock ever further ahead of the kernel's, and bursts would keep their nominal spacing.
        int index = -1;
        foreach (var it in _items)
        {
            index++;
            if (it.Type == "listen") continue;
            if (it.Type == "sleep")
            {
                _time.AdvanceMilliseconds(it.Has("sleep_ms") ? it.Num("sleep_ms", 0) : it.Num("ms", 0));
                continue;
            }
            if (it.Has("delay_ms")) _time.AdvanceMilliseconds(it.Num("delay_ms", 0));
            if (_lineTimes.TryGetValue(it.Line, out var lt)) AdvanceTo(lt);
            _line = it.Line;
            var rec = new JsonObject
            {
                ["line"] = it.Line, ["type"] = it.Type, ["label"] = it.Label, ["dir"] = it.Dir, ["t_ms"] = Math.Round(Now, 3),
            };
            int logStart = _log.Count;
            if (it.Type == "packet")
            {
                int count = (int)it.Num("count", 1);
                var packets = new JsonArray();
                for (int k = 0; k < count; k++)
                {
                    n++;
                    if (_packetTimes.TryGetValue(n, out var pt)) AdvanceTo(pt);
                    else if (k > 0 && it.Has("interval_ms")) _time.AdvanceMilliseconds(it.Num("interval_ms", 0));
                    packets.Add(SendScenarioPacket(it, n));
                    if (!_packetTimes.ContainsKey(n + 1)) _time.AdvanceMilliseconds(0.3);
                }
                rec["packets"] = packets;
                if (!NextLineTimed(index)) _time.AdvanceMilliseconds(it.Num("settle_ms", _options.SettleMs));
            }
            else
            {
                var connect = Connect(it);
                rec["connect"] = connect;
                if (it.Str("expect") is string exp)
                {
                    rec["expect"] = exp;
                    string result = connect["result"]!.GetValue<string>();
                    rec["expect_ok"] = result == exp || (exp == "fail" && result != "connected");
                }
                if (!NextLineTimed(index)) _time.AdvanceMilliseconds(it.Num("settle_ms", Math.Max(_options.SettleMs, 100)));
            }
            var after = Snapshot();
            rec["counter_changes"] = Diff(before, after);
            before = after;
            rec["log"] = new JsonArray(_log.Skip(logStart).Select(l => (JsonNode)l.Text).ToArray());
            if (!NextLineTimed(index)) _time.AdvanceMilliseconds(_options.SnapshotMs);
            lines.Add(rec);
        }
        return Result(lines);
    }

    /// <summary>Whether the next line that runs (not a listener or a sleep) has a time in the oracle's result.</summary>
    private bool NextLineTimed(int index)
    {
        for (int i = index + 1; i < _items.Count; i++)
        {
            var next = _items[i];
            if (next.Type == "listen") continue;
            return next.Type != "sleep" && _lineTimes.ContainsKey(next.Line);
        }
        return false;
    }

    private JsonObject SendScenarioPacket(ScenarioItem it, int n)
    {
        bool v6 = ScenarioPackets.IsV6(it);
        var (from, defSrc, defDst, fwIf) = Endpoints(it, v6);
        ushort marker = (ushort)(it.Has("ip_id") ? it.Num("ip_id", 0) : 0xB000 + n);
        // oracle-run gives every packet without an explicit sport the port 40000+n.
        var bytes = ScenarioPackets.Build(it, it.Json, defSrc, defDst, v6, marker, (uint)(1000 + 1000 * n), quote: false, it.Line, (ushort)(40000 + n));
        var prec = new JsonObject
        {
            ["n"] = n, ["t_ms"] = Math.Round(Now, 3), ["summary"] = Wire.Describe(bytes), ["family"] = v6 ? "ipv6" : "ipv4",
            ["marker"] = marker, ["length"] = bytes.Length, ["fw_iface"] = fwIf,
        };
        if (it.Str("expect") is string exp) prec["expect"] = exp;
        int logStart = _log.Count;
        HookMask seen;
        _work = 0;
        _firstResult = null;
        if (from == "fw") seen = FwSend(bytes, n, ReplySocket.Full); // the oracle's raw socket, owned by root
        else seen = ToFirewall(from, bytes, n);
        if (_firstResult is PacketResult fr && fr.Table != null)
            prec["decided_by"] = fr.Rule == 0 ? $"{fr.Table} {fr.Chain} policy" : $"{fr.Table} {fr.Chain} #{fr.Rule}: -A {fr.Chain} {RuleText(fr)}";
        var hooks = new JsonObject
        {
            ["prerouting"] = Bit(seen, HookMask.PreRouting), ["input"] = Bit(seen, HookMask.Input), ["forward"] = Bit(seen, HookMask.Forward),
            ["output"] = Bit(seen, HookMask.Output), ["postrouting"] = Bit(seen, HookMask.PostRouting),
        };
        prec["hooks_seen"] = hooks;
        bool accepted = it.Dir is "in" or "local" ? (seen & HookMask.Input) != 0 : (seen & HookMask.PostRouting) != 0;
        // oracle-run's rule: "dropped" when the packet arrived (seen at PREROUTING, or for "local" passed
        // OUTPUT; an "out" packet always counts as sent), "not-seen" otherwise.
        bool arrived = it.Dir switch
        {
            "out" => true,
            "local" => (seen & (HookMask.PreRouting | HookMask.Output)) != 0,
            _ => (seen & HookMask.PreRouting) != 0,
        };
        string verdict = accepted ? "accepted" : arrived ? "dropped" : "not-seen";
        prec["verdict"] = verdict;
        if (it.Str("expect") is string e) prec["expect_ok"] = e == "accept" ? accepted : !accepted;
        var logs = _log.Skip(logStart).Where(l => l.Packet == n).Select(l => (JsonNode)l.Text).ToArray();
        if (logs.Length > 0) prec["log_lines"] = new JsonArray(logs);
        return prec;
    }

    private static int Bit(HookMask m, HookMask b) => (m & b) != 0 ? 1 : 0;

    /// <summary>scenario.endpoints: who sends, default addresses, and the fw interface involved.</summary>
    private (string From, UInt128 Src, UInt128 Dst, string FwIf) Endpoints(ScenarioItem it, bool v6)
    {
        string? iface = it.Str("iface");
        switch (it.Dir)
        {
            case "in" when iface == "eth1":
                return ("backend", Topology.Address("backend/eth0", v6), Topology.Address("fw/eth1", v6), "eth1");
            case "in":
                return ("client", Topology.Address("client/eth0", v6), Topology.Address("fw/eth0", v6), "eth0");
            case "out":
            {
                var dst = it.Str("dst");
                bool backend = iface == "eth1" || dst != null && InBackendNet(Topology.Parse(dst), v6);
                return backend
                    ? ("fw", Topology.Address("fw/eth1", v6), Topology.Address("backend/eth0", v6), "eth1")
                    : ("fw", Topology.Address("fw/eth0", v6), Topology.Address("client/eth0", v6), "eth0");
            }
            case "local":
                return ("fw", v6 ? UInt128.One : 0x7f000001, v6 ? UInt128.One : 0x7f000001, "lo");
            case "fwd":
                return ("client", Topology.Address("client/eth0", v6), Topology.Address("backend/eth0", v6), "eth0");
            default:
                return ("backend", Topology.Address("backend/eth0", v6), Topology.Address("client/eth0", v6), "eth1");
        }
    }

    private static bool InBackendNet(UInt128 a, bool v6) => v6
        ? (a >> 64) == (Topology.Address("backend/eth0", true) >> 64)
        : ((uint)a & 0xffffff00) == ((uint)Topology.Address("backend/eth0", false) & 0xffffff00);

    /// <summary>An endpoint puts a packet on its link to the fw; returns the hooks it was seen at.</summary>
    private HookMask ToFirewall(string from, byte[] bytes, long number)
    {
        if (++_work > 400) return HookMask.None;
        string link = from == "backend" ? "eth1" : "eth0";
        var iface = _engine.State.Network.Find(link);
        if (iface == null) return HookMask.None;
        var p = _packet;
        p.Load(bytes);
        p.Number = number;
        Span<byte> mac = stackalloc byte[14];
        _topo.Macs[$"fw/{link}"].CopyTo(mac);
        _topo.Macs[$"{from}/eth0"].CopyTo(mac[6..]);
        mac[12] = p.Info.Version == 6 ? (byte)0x86 : (byte)0x08;
        mac[13] = p.Info.Version == 6 ? (byte)0xdd : (byte)0x00;
        p.SetMacHeader(mac);
        var r = _engine.Receive(p, iface);
        _firstResult ??= r;
        var seen = p.Seen;
        var generated = TakeGenerated();
        if (r.Verdict == Verdict.Accept || (r.Verdict == Verdict.Queue && r.QueueBypass))
        {
            var outBytes = p.Bytes.ToArray();
            if (r.Local) Answer(r, outBytes);
            else if (r.Out != null) DeliverToEndpoint(r.Out.Name, outBytes);
        }
        DeliverGenerated(generated);
        return seen;
    }

    /// <summary>The fw sends a packet (raw socket or its own TCP/ICMP answer) through <paramref name="socket"/>; returns the hooks it was seen at.</summary>
    private HookMask FwSend(byte[] bytes, long number, ReplySocket socket, bool keepsConntrack = false)
    {
        if (++_work > 400) return HookMask.None;
        var p = _packet;
        p.Load(bytes);
        p.Number = number;
        // Everything the fw sends comes from a socket: the raw socket and the oracle's listeners
        // and connections (owned by root), or the kernel's TCP/ICMP control sockets (no owner).
        p.HasSocket = true;
        p.KernelSocket = socket is ReplySocket.Kernel or ReplySocket.KernelIcmp;
        p.IcmpSocket = socket == ReplySocket.KernelIcmp;
        p.RequestSocket = socket == ReplySocket.Request;
        if (!p.KernelSocket) { p.SocketUid = 0; p.SocketGid = 0; }
        if (keepsConntrack) AttachRelated(p);
        var r = _engine.SendLocal(p);
        _firstResult ??= r;
        var seen = p.Seen;
        var generated = TakeGenerated();
        if (r.Verdict == Verdict.Accept)
        {
            var outBytes = p.Bytes.ToArray();
            if (r.Local) Answer(r, outBytes);
            else if (r.Out != null && !r.Out.IsLoopback) DeliverToEndpoint(r.Out.Name, outBytes);
        }
        DeliverGenerated(generated);
        return seen;
    }

    /// <summary>
    /// Packets the engine made while judging another (REJECT replies, ICMP errors of the forwarding
    /// path) that left through eth0/eth1 or came back to the fw itself over lo (Iface null): a RST
    /// REJECT makes of the fw's own SYN-ACK reaches its request socket.
    /// </summary>
    private readonly List<(string? Iface, byte[] Bytes)> _generated = [];

    void IEngineObserver.OnLocalOut(Packet p, in PacketResult result)
    {
        if (result.Verdict != Verdict.Accept) return;
        if (result.Local) _generated.Add((null, p.Bytes.ToArray()));
        else if (result.Out is { IsLoopback: false } iface) _generated.Add((iface.Name, p.Bytes.ToArray()));
    }

    private (string? Iface, byte[] Bytes)[] TakeGenerated()
    {
        if (_generated.Count == 0) return [];
        var taken = _generated.ToArray();
        _generated.Clear();
        return taken;
    }

    /// <summary>The endpoints receive what the engine made (a RST or ICMP error ends a connection attempt there).</summary>
    private void DeliverGenerated((string? Iface, byte[] Bytes)[] generated)
    {
        foreach (var (iface, bytes) in generated)
        {
            // REJECT's packets carry no conntrack entry of their own that an answer could inherit.
            if (iface == null) Answer(default, bytes);
            else DeliverToEndpoint(iface, bytes);
        }
    }

    private void DeliverToEndpoint(string fwIface, byte[] bytes)
    {
        var (name, stack) = fwIface == "eth1" ? ("backend", _backend) : ("client", _client);
        PacketParser.Parse(bytes, out var info);
        if (!stack.Owns(info.Version, info.Destination)) return;
        foreach (var reply in stack.Receive(bytes)) ToFirewall(name, reply.Bytes, 0);
    }

    /// <summary>A tcp_connect line: a kernel TCP connection with optional data, then an orderly close.</summary>
    private JsonObject Connect(ScenarioItem it)
    {
        bool v6 = ScenarioPackets.IsV6(it);
        var (from, src, dst, _) = Endpoints(it, v6);
        if (it.Str("dst") is string d) dst = Topology.Parse(d);
        if (it.Str("src") is string s) src = Topology.Parse(s);
        if (it.Dir == "local") from = "fw";
        ushort dport = (ushort)it.Num("dport", 80);
        var stack = from switch { "client" => _client, "backend" => _backend, _ => _fw };
        var res = new JsonObject { ["dst"] = Wire.Addr((byte)(v6 ? 6 : 4), dst), ["dport"] = dport };
        _work = 0;
        // The kernel picks the ephemeral port and the IPv6 flow label at random; with an oracle
        // result at hand, the run takes the ones the kernel picked (as it takes its clock).
        var (sport, flowLabel) = _connectRandom.TryGetValue(it.Line, out var rnd) ? rnd : ((ushort)it.Num("sport", 0), 0u);
        var (sock, syn) = stack.Connect((byte)(v6 ? 6 : 4), src, sport, dst, dport, flowLabel);
        Send(from, new HostReply(syn, ReplySocket.Full));
        double timeout = it.Num("timeout_ms", 900);
        string result = sock.State switch
        {
            SockState.Established => "connected",
            SockState.Refused => "refused",
            SockState.Error => "error",
            _ => "timeout",
        };
        if (sock.Errno != null) res["errno"] = sock.Errno;
        if (result == "timeout") _time.AdvanceMilliseconds(timeout);
        res["result"] = result;
        res["connect_ms"] = result == "timeout" ? timeout : 0.4;
        if (result == "connected")
        {
            res["local"] = $"{Wire.Addr(sock.Version, sock.Local)}:{sock.LocalPort}";
            var data = it.Str("data") is string text ? System.Text.Encoding.UTF8.GetBytes(text) : [];
            foreach (var seg in stack.SendAndShutdown(sock, data)) Send(from, seg);
            res["bytes_received"] = 0;
            res["closed_by_peer"] = sock.PeerClosed;
            if (!sock.PeerClosed) _time.AdvanceMilliseconds(500);
        }
        return res;
    }

    /// <summary>
    /// icmp_glue_bits attaches the entry of the packet an ICMP error answers before the error
    /// enters OUTPUT (so raw-table NOTRACK leaves it alone): RELATED, in the reply direction when
    /// the packet went in the original one. An untracked or invalid packet passes nothing on.
    /// </summary>
    private void AttachRelated(Packet p)
    {
        if (_answering is not { Conn: { } ct } cause) return;
        p.Conn = ct;
        p.CtInfo = cause.CtInfo.AnswerInfo();
        p.ConntrackDone = true;
    }

    /// <summary>The delivered packet whose answers the fw's host stack is sending now.</summary>
    private PacketResult? _answering;

    /// <summary>The fw's host stack answers a packet delivered to it.</summary>
    private void Answer(in PacketResult delivered, byte[] packet)
    {
        var outer = _answering;
        _answering = delivered;
        foreach (var reply in _fw.Receive(packet)) FwSend(reply.Bytes, 0, reply.Socket, reply.KeepsConntrack);
        _answering = outer;
    }

    private void Send(string from, HostReply packet)
    {
        if (from == "fw") FwSend(packet.Bytes, 0, packet.Socket);
        else ToFirewall(from, packet.Bytes, 0);
    }

    // ---- counters and the result ------------------------------------------------------------

    private Dictionary<string, (JsonObject Key, ulong Packets, ulong Bytes)> Snapshot()
    {
        var d = new Dictionary<string, (JsonObject, ulong, ulong)>();
        foreach (var (fam, name) in new[] { (_engine.Ruleset.IPv4, "ipv4"), (_engine.Ruleset.IPv6, "ipv6") })
            foreach (var t in fam.AllTables)
                foreach (var c in t.AllChains)
                {
                    if (c.IsBuiltin)
                        d[$"{name}/{t.Name}/{c.Name}/policy"] = (new JsonObject
                        {
                            ["family"] = name, ["table"] = t.Name, ["chain"] = c.Name, ["policy"] = c.PolicyDrop ? "DROP" : "ACCEPT",
                        }, c.PolicyCounters.Packets, c.PolicyCounters.Bytes);
                    for (int i = 0; i < c.RuleCount; i++)
                    {
                        var cell = c.RuleCounters(i);
                        d[$"{name}/{t.Name}/{c.Name}/{i + 1}"] = (new JsonObject
                        {
                            ["family"] = name, ["table"] = t.Name, ["chain"] = c.Name, ["index"] = i + 1, ["rule"] = $"-A {c.Name} {c.RuleText(i)}".TrimEnd(),
                        }, cell.Packets, cell.Bytes);
                    }
                }
        return d;
    }

    private static JsonArray Diff(Dictionary<string, (JsonObject Key, ulong Packets, ulong Bytes)> a, Dictionary<string, (JsonObject Key, ulong Packets, ulong Bytes)> b)
    {
        var arr = new JsonArray();
        foreach (var (k, v) in b)
        {
            var (p0, b0) = a.TryGetValue(k, out var o) ? (o.Packets, o.Bytes) : (0UL, 0UL);
            if (v.Packets == p0 && v.Bytes == b0) continue;
            var node = (JsonObject)v.Key.DeepClone();
            node["packets"] = v.Packets - p0;
            node["bytes"] = v.Bytes - b0;
            arr.Add(node);
        }
        return arr;
    }

    /// <summary>The recent lists as oracle-run reports them: the /proc lines and their parsed entries.</summary>
    private JsonObject RecentJson()
    {
        var o = new JsonObject();
        var recent = _engine.State.Recent;
        foreach (var name in recent.Names)
        {
            var raw = new JsonArray();
            var entries = new JsonArray();
            foreach (var line in recent.Read(name).Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                raw.Add(line);
                // src=ADDR ttl: T last_seen: J oldest_pkt: I S1, S2, ...
                var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var stamps = new JsonArray(string.Join(' ', f.Skip(7)).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Select(x => (JsonNode)ulong.Parse(x)).ToArray());
                entries.Add(new JsonObject
                {
                    ["src"] = f[0][4..], ["ttl"] = int.Parse(f[2]), ["last_seen"] = ulong.Parse(f[4]), ["oldest_pkt"] = int.Parse(f[6]), ["stamps"] = stamps,
                });
            }
            o[name] = new JsonObject { ["raw"] = raw, ["entries"] = entries };
        }
        return o;
    }

    private JsonObject Result(JsonArray lines)
    {
        var tables = new JsonObject();
        var save = new JsonObject();
        foreach (var (rules, fam, name) in new[] { (_v4, _engine.Ruleset.IPv4, "ipv4"), (_v6, _engine.Ruleset.IPv6, "ipv6") })
        {
            if (rules == null || !rules.Tables.Any()) continue;
            var ft = new JsonObject();
            foreach (var t in fam.AllTables)
            {
                var chains = new JsonObject();
                var order = new JsonArray();
                foreach (var c in t.AllChains.OrderBy(c => c.IsBuiltin ? 0 : 1))
                {
                    order.Add(c.Name);
                    var rs = new JsonArray();
                    for (int i = 0; i < c.RuleCount; i++)
                        rs.Add(new JsonObject
                        {
                            ["index"] = i + 1, ["rule"] = $"-A {c.Name} {c.RuleText(i)}".TrimEnd(),
                            ["packets"] = c.RuleCounters(i).Packets, ["bytes"] = c.RuleCounters(i).Bytes,
                        });
                    var co = new JsonObject { ["builtin"] = c.IsBuiltin };
                    if (c.IsBuiltin) co["policy"] = c.PolicyDrop ? "DROP" : "ACCEPT";
                    co["rules"] = rs;
                    if (c.IsBuiltin)
                    {
                        co["policy_packets"] = c.PolicyCounters.Packets;
                        co["policy_bytes"] = c.PolicyCounters.Bytes;
                    }
                    chains[c.Name] = co;
                }
                ft[t.Name] = new JsonObject { ["chain_order"] = order, ["chains"] = chains };
            }
            tables[name] = ft;
            var copy = rules.Clone();
            _engine.Ruleset.CopyCountersTo(copy);
            save[name] = SharpTables.Rules.Commands.Restore.Save(copy, counters: true);
        }
        return new JsonObject
        {
            ["tool"] = "sharptables simulate",
            ["topology"] = new JsonObject { ["mode"] = _topo.Router ? "router" : "host", ["ipv6"] = _v6Needed },
            ["lines"] = lines,
            ["tables"] = tables,
            ["save"] = save,
            ["xt_recent"] = RecentJson(),
            // /proc/net/nf_conntrack as the oracle reports it (runs of spaces collapsed).
            ["conntrack"] = new JsonArray(_engine.State.Conntrack.ProcLines()
                .Select(l => (JsonNode)System.Text.RegularExpressions.Regex.Replace(l.TrimEnd(), " +", " ")).ToArray()),
            ["log"] = new JsonArray(_log.Select(l => (JsonNode)new JsonObject { ["level"] = l.Level, ["text"] = l.Text }).ToArray()),
            ["isn_lines"] = new JsonArray(_isnLines.Select(l => (JsonNode)l).ToArray()),
        };
    }
}
