using System.Text.Json;
using SharpTables.Rules;
using SharpTables.Rules.Commands;
using SharpTables.Rules.Model;
using SharpTables.Rules.Storage;
using SharpTables.Simulation;

namespace SharpTables.Cli;

/// <summary>
/// <c>sharptables simulate</c>: replays a scenario (the oracle's JSON lines) or a capture through
/// the current ruleset (or <c>--rules FILE</c>) and reports verdicts, counters, LOG lines, recent
/// lists and the conntrack table. <c>--json</c> gives oracle-run's result shape.
/// </summary>
internal static class SimulateCommand
{
    public const string Usage = """
        Usage: sharptables simulate [--rules FILE] [--rules6 FILE] --scenario FILE.jsonl [--json] [--trace]
                                    [--topology-from ORACLE_RESULT.json] [--settle-ms MS] [--isn N]
                                    [--isn-flip LINE[,LINE...]] [--clock-phase MS]
               sharptables simulate [--rules FILE] [--rules6 FILE] --pcap CAPTURE [--local ADDR[,ADDR...]]
                                    [--in-iface IF] [--out-iface IF] [--write-accepted FILE.pcap]
                                    [--summary] [--trace] [--json]
        Without --rules the current ruleset (the state directory's) is used.
        """;

    public static int Run(List<string> args, StateStore store, TextWriter stdout, TextWriter stderr)
    {
        string? rules = null, rules6 = null, scenario = null, topologyFrom = null, pcap = null, writeAccepted = null;
        string inIface = "eth0", outIface = "eth1";
        var local = new List<UInt128>();
        bool json = false, trace = false, summary = false;
        double settle = 30;
        uint isn = ScenarioOptions.DefaultIsnBase;
        var isnFlip = new HashSet<int>();
        double phase = 0;
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            string Next() => i + 1 < args.Count ? args[++i] : throw new UsageException($"option {a} needs an argument");
            switch (a)
            {
                case "--rules": rules = Next(); break;
                case "--rules6": rules6 = Next(); break;
                case "--scenario": scenario = Next(); break;
                case "--topology-from": topologyFrom = Next(); break;
                case "--settle-ms": settle = double.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture); break;
                case "--isn": isn = ParseIsn(a, Next()); break;
                case "--isn-flip":
                    foreach (var line in Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                        isnFlip.Add(int.TryParse(line, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int l) && l > 0
                            ? l : throw new UsageException($"option {a}: {line} is not a scenario line number"));
                    break;
                case "--clock-phase":
                    string ms = Next();
                    phase = double.TryParse(ms, System.Globalization.NumberStyles.AllowDecimalPoint, System.Globalization.CultureInfo.InvariantCulture, out double v)
                            && v < 1000.0 / SharpTables.Engine.EngineClock.Hz
                        ? v : throw new UsageException($"option {a}: {ms} is not a time in ms within one jiffy (0 to 4)");
                    break;
                case "--pcap": pcap = Next(); break;
                case "--local":
                    foreach (var addr in Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                        local.Add(Topology.Parse(addr));
                    break;
                case "--in-iface": inIface = Next(); break;
                case "--out-iface": outIface = Next(); break;
                case "--write-accepted": writeAccepted = Next(); break;
                case "--summary": summary = true; break;
                case "--json": json = true; break;
                case "--trace": trace = true; break;
                case "-h": case "--help": stdout.Write(Usage); return 0;
                default: throw new UsageException($"unknown option {a}");
            }
        }
        if ((scenario == null) == (pcap == null)) throw new UsageException("give either --scenario FILE or --pcap FILE");
        var v4 = rules != null ? LoadRules(rules) : store.Load();
        var v6 = rules6 != null ? LoadRules(rules6, Family.IPv6) : null;
        if (pcap != null)
            return CaptureRun(v4, v6, pcap, new CaptureArgs(local, inIface, outIface, writeAccepted, summary, trace, json), stdout, stderr);
        JsonElement? oracle = topologyFrom != null ? JsonDocument.Parse(File.ReadAllText(topologyFrom)).RootElement : null;
        var traces = new List<(long, string)>();
        var runner = new ScenarioRunner(v4, v6, File.ReadAllText(scenario!), new ScenarioOptions
        {
            OracleResult = oracle,
            SettleMs = settle,
            IsnBase = isn,
            IsnFlipLines = isnFlip,
            ClockPhaseMs = phase,
            Trace = trace ? (n, s) => traces.Add((n, s)) : null,
        });
        var result = runner.Run();
        if (json)
        {
            stdout.WriteLine(result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }
        SimulateText.Write(result, traces, stdout);
        return 0;
    }

    /// <summary>--isn: a 32-bit number, decimal or 0x hex.</summary>
    private static uint ParseIsn(string option, string value)
    {
        bool hex = value.StartsWith("0x", StringComparison.OrdinalIgnoreCase);
        return uint.TryParse(hex ? value[2..] : value, hex ? System.Globalization.NumberStyles.AllowHexSpecifier : System.Globalization.NumberStyles.None,
            System.Globalization.CultureInfo.InvariantCulture, out uint v)
            ? v : throw new UsageException($"option {option}: {value} is not a 32-bit sequence number");
    }

    private sealed record CaptureArgs(List<UInt128> Local, string In, string Out, string? WriteAccepted, bool Summary, bool Trace, bool Json);

    /// <summary>Collects LOG lines and (with --trace) the rules each packet passed.</summary>
    private sealed class CaptureObserver(bool trace) : SharpTables.Engine.IEngineObserver
    {
        public readonly List<string> Log = [];
        public readonly List<string> Steps = [];
        public bool Tracing => trace;
        public void OnLog(in SharpTables.Engine.LogRecord r) => Log.Add($"<{r.Level}> {r.Text}");
        public void OnTrace(SharpTables.Engine.Packet p, string table, string chain, SharpTables.Engine.TraceKind kind, int rule) =>
            Steps.Add(kind switch { SharpTables.Engine.TraceKind.Rule => $"{table}:{chain}:rule:{rule}", SharpTables.Engine.TraceKind.Return => $"{table}:{chain}:return", _ => $"{table}:{chain}:policy" });
    }

    private static int CaptureRun(Ruleset v4, Ruleset? v6, string path, CaptureArgs a, TextWriter stdout, TextWriter stderr)
    {
        using var file = File.OpenRead(path);
        using var accepted = a.WriteAccepted != null ? File.Create(a.WriteAccepted) : null;
        using var bar = new ProgressBar(stderr, file.Length, "bytes");
        var observer = new CaptureObserver(a.Trace);
        bool perPacket = !a.Summary && !a.Json;
        var sim = new CaptureSimulator(v4, v6, new CaptureOptions
        {
            Local = a.Local, InInterface = a.In, OutInterface = a.Out, WriteAccepted = accepted, Observer = observer,
            Progress = bar.Report,
            PerPacket = perPacket ? (n, data, r) =>
            {
                string by = r.Table == null ? "" : r.Rule == 0 ? $"  {r.Table} {r.Chain} policy" : $"  {r.Table} {r.Chain} #{r.Rule}";
                stdout.WriteLine($"#{n,-6} {(r.Verdict == SharpTables.Engine.Verdict.Accept ? "accepted" : "dropped"),-9}{by}");
                foreach (var s in observer.Steps) stdout.WriteLine($"        TRACE {s}");
                observer.Steps.Clear();
            } : null,
        });
        var sum = sim.Run(file);
        bar.Dispose();
        if (a.Json)
        {
            var o = new System.Text.Json.Nodes.JsonObject
            {
                ["packets"] = sum.Packets, ["accepted"] = sum.Accepted, ["dropped"] = sum.Dropped, ["not_ip"] = sum.NotIp,
                ["seconds"] = Math.Round(sum.Elapsed.TotalSeconds, 3),
                ["save"] = new System.Text.Json.Nodes.JsonObject { ["ipv4"] = sim.Save(Family.IPv4), ["ipv6"] = sim.Save(Family.IPv6) },
                ["log"] = new System.Text.Json.Nodes.JsonArray(observer.Log.Select(l => (System.Text.Json.Nodes.JsonNode)l).ToArray()),
                ["conntrack"] = new System.Text.Json.Nodes.JsonArray(sim.Engine.State.Conntrack.ProcLines().Select(l => (System.Text.Json.Nodes.JsonNode)l.TrimEnd()).ToArray()),
            };
            stdout.WriteLine(o.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }
        stdout.WriteLine($"{sum.Packets} packets: {sum.Accepted} accepted, {sum.Dropped} dropped{(sum.NotIp > 0 ? $", {sum.NotIp} not IP (skipped)" : "")} in {sum.Elapsed.TotalSeconds:0.00} s");
        stdout.WriteLine("# final counters (ipv4)");
        stdout.Write(sim.Save(Family.IPv4));
        if (v6 != null) { stdout.WriteLine("# final counters (ipv6)"); stdout.Write(sim.Save(Family.IPv6)); }
        if (observer.Log.Count > 0)
        {
            stdout.WriteLine($"# LOG lines ({observer.Log.Count})");
            foreach (var l in observer.Log) stdout.WriteLine(l);
        }
        var recent = sim.Engine.State.Recent;
        foreach (var name in recent.Names)
        {
            stdout.WriteLine($"# recent list {name}");
            stdout.Write(recent.Read(name));
        }
        var ct = sim.Engine.State.Conntrack.ProcLines().ToList();
        stdout.WriteLine($"# conntrack table ({ct.Count} entries)");
        foreach (var l in ct) stdout.WriteLine(l.TrimEnd());
        return 0;
    }

    private static Ruleset LoadRules(string path, Family family = Family.IPv4)
    {
        string text = File.ReadAllText(path);
        return Restore.Apply(new Ruleset(family), text, new RestoreOptions { Counters = true });
    }
}

/// <summary>A bad command line for one of our own subcommands.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>The human-readable report of a simulation.</summary>
internal static class SimulateText
{
    public static void Write(System.Text.Json.Nodes.JsonObject result, List<(long N, string Step)> traces, TextWriter w)
    {
        foreach (var line in result["lines"]!.AsArray())
        {
            string label = line!["label"]?.GetValue<string>() is string l ? $" {l}" : "";
            if (line["packets"] is System.Text.Json.Nodes.JsonArray ps)
            {
                foreach (var p in ps)
                {
                    long n = p!["n"]!.GetValue<int>();
                    string by = p["decided_by"]?.GetValue<string>() is string d ? $"\n        by {d}" : "";
                    w.WriteLine($"#{n,-4} {p["verdict"]!.GetValue<string>(),-9} {p["summary"]!.GetValue<string>()}  (line {line["line"]}{label}){by}");
                    foreach (var (_, step) in traces.Where(t => t.N == n)) w.WriteLine($"        TRACE {step}");
                    if (p["log_lines"] is System.Text.Json.Nodes.JsonArray logs)
                        foreach (var lg in logs) w.WriteLine($"        LOG {lg}");
                }
            }
            else if (line["connect"] is System.Text.Json.Nodes.JsonObject c)
                w.WriteLine($"tcp_connect {c["dst"]}:{c["dport"]} -> {c["result"]}  (line {line["line"]}{label})");
        }
        w.WriteLine();
        foreach (var (fam, text) in result["save"]!.AsObject())
        {
            w.WriteLine($"# final counters ({fam})");
            w.Write(text!.GetValue<string>());
        }
        if (result["xt_recent"] is System.Text.Json.Nodes.JsonObject recent)
            foreach (var (name, list) in recent)
            {
                w.WriteLine($"# recent list {name}");
                foreach (var l in list!["raw"]!.AsArray()) w.WriteLine(l);
            }
        if (result["conntrack"] is System.Text.Json.Nodes.JsonArray ct)
        {
            w.WriteLine($"# conntrack table ({ct.Count} entries)");
            foreach (var l in ct) w.WriteLine(l);
        }
        var log = result["log"]!.AsArray();
        if (log.Count > 0)
        {
            w.WriteLine("# LOG lines");
            foreach (var l in log) w.WriteLine($"<{l!["level"]}> {l["text"]}");
        }
    }
}
