using System.Text.Json;
using System.Text.Json.Nodes;
using SharpTables.Rules.Model;

namespace SharpTables.Simulation.Tests;

/// <summary>
/// The simulator replays a recorded run on the kernel's clock: each line and packet at the time
/// the oracle's result gives it, even when the recording's lines are closer together than the
/// simulator's own estimate of a line (settle plus snapshot), as in difftest's live batches.
/// </summary>
public class ScenarioTimingTests
{
    private const string Scenario = """
        {"dir":"in","src":"198.51.100.2","dst":"198.51.100.1","proto":"udp","dport":9999}
        {"dir":"in","src":"198.51.100.2","dst":"198.51.100.1","proto":"udp","dport":9998}
        {"dir":"in","src":"198.51.100.2","dst":"198.51.100.1","proto":"icmp","count":3,"interval_ms":40}
        {"dir":"in","src":"198.51.100.2","dst":"198.51.100.1","proto":"udp","dport":9997}
        """;

    private static JsonElement Oracle(params (int Line, double Ms, double[] Packets)[] lines)
    {
        int n = 0;
        var result = new JsonObject
        {
            ["topology"] = new JsonObject
            {
                ["mode"] = "host",
                ["interfaces"] = new JsonObject
                {
                    ["fw/eth0"] = new JsonObject { ["mac"] = "02:00:00:00:00:01" },
                    ["client/eth0"] = new JsonObject { ["mac"] = "02:00:00:00:00:02" },
                },
            },
            ["lines"] = new JsonArray(lines.Select(l => (JsonNode)new JsonObject
            {
                ["line"] = l.Line,
                ["t_ms"] = l.Ms,
                ["packets"] = new JsonArray(l.Packets.Select(t => (JsonNode)new JsonObject { ["n"] = ++n, ["t_ms"] = t }).ToArray()),
            }).ToArray()),
        };
        return JsonDocument.Parse(result.ToJsonString()).RootElement;
    }

    [Fact]
    public void Lines_and_burst_packets_run_at_the_recorded_times_even_when_closer_than_the_estimate()
    {
        // 15 ms between lines (the estimate is 30 ms settle + 8 ms snapshot), and a burst whose
        // packets left 41.7 and 41.4 ms apart rather than the nominal 40.
        var oracle = Oracle((1, 100, [100.5]), (2, 115, [115.4]), (3, 130, [130.2, 171.9, 213.3]));
        var result = new ScenarioRunner(new Ruleset(), null, Scenario, new ScenarioOptions { OracleResult = oracle }).Run();
        var lines = result["lines"]!.AsArray();
        double[] Times(int i) => lines[i]!["packets"]!.AsArray().Select(p => (double)p!["t_ms"]!).ToArray();
        Assert.Equal([100.5], Times(0));
        Assert.Equal([115.4], Times(1));
        Assert.Equal([130.2, 171.9, 213.3], Times(2));
        // A line the recording has no time for follows the estimate: settle and snapshot after the last.
        Assert.Equal(213.3 + 0.3 + 30 + 8, Times(3)[0], 3);
    }
}
