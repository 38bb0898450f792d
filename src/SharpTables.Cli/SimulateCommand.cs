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
                                    [--topology-from ORACLE_RESULT.json] [--settle-ms MS]
        """;

    public static int Run(List<string> args, StateStore store, TextWriter stdout, TextWriter stderr)
    {
        string? rules = null, rules6 = null, scenario = null, topologyFrom = null;
        bool json = false, trace = false;
        double settle = 30;
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
                case "--json": json = true; break;
                case "--trace": trace = true; break;
                case "-h": case "--help": stdout.Write(Usage); return 0;
                default: throw new UsageException($"unknown option {a}");
            }
        }
        if (scenario == null) throw new UsageException("--scenario FILE is required");
        var v4 = rules != null ? LoadRules(rules) : store.Load();
        var v6 = rules6 != null ? LoadRules(rules6, Family.IPv6) : null;
        JsonElement? oracle = topologyFrom != null ? JsonDocument.Parse(File.ReadAllText(topologyFrom)).RootElement : null;
        var traces = new List<(long, string)>();
        var runner = new ScenarioRunner(v4, v6, File.ReadAllText(scenario), new ScenarioOptions
        {
            OracleResult = oracle,
            SettleMs = settle,
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
                    w.WriteLine($"#{n,-4} {p["verdict"]!.GetValue<string>(),-9} {p["summary"]!.GetValue<string>()}  (line {line["line"]}{label})");
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
        var log = result["log"]!.AsArray();
        if (log.Count > 0)
        {
            w.WriteLine("# LOG lines");
            foreach (var l in log) w.WriteLine($"<{l!["level"]}> {l["text"]}");
        }
    }
}
