using System.Text.Json;
using System.Text.Json.Nodes;
using SharpTables.DiffTest.Comparison;
using SharpTables.DiffTest.Running;

namespace SharpTables.DiffTest.Tests;

/// <summary>Stability reruns: what differs between two kernel runs by design is mapped away, nothing else.</summary>
public class RunMappingTests
{
    private const string Stored = """
        {"topology":{"interfaces":{"client/eth0":{"mac":"02:aa:aa:aa:00:01"},"fw/eth0":{"mac":"02:aa:aa:aa:00:02"}}},
         "lines":[{"line":5,"type":"tcp_connect","connect":{"result":"refused","local":"198.51.100.2:20001"}}],
         "log":[{"level":4,"text":"t0c0r1 IN=eth0 OUT= MAC=02:aa:aa:aa:00:02:02:aa:aa:aa:00:01:08:00 SRC=198.51.100.2 DST=198.51.100.1 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=1 DF PROTO=TCP SPT=20001 DPT=81 WINDOW=64240 RES=0x00 SYN URGP=0 "}]}
        """;

    [Fact]
    public void A_rerun_with_other_macs_and_ports_agrees_but_a_changed_field_does_not()
    {
        string rerun = Stored.Replace("02:aa:aa:aa", "02:bb:bb:bb").Replace("20001", "45678");
        using var stored = JsonDocument.Parse(Stored);
        string mapped = RunMapping.MapTo(rerun, (JsonObject)JsonNode.Parse(rerun)!, stored.RootElement);
        using var again = JsonDocument.Parse(mapped);
        Assert.Empty(Comparator.Compare(stored.RootElement, again.RootElement, oursFromKernel: true));

        string changed = rerun.Replace("WINDOW=64240", "WINDOW=1");
        using var other = JsonDocument.Parse(RunMapping.MapTo(changed, (JsonObject)JsonNode.Parse(changed)!, stored.RootElement));
        Assert.Equal(2, Comparator.Compare(stored.RootElement, other.RootElement, oursFromKernel: true).Count);
    }

    [Fact]
    public void Batches_split_the_cases_asked_for()
    {
        Assert.Equal([(0, 20), (1, 20), (2, 5)], Recorder.Plan(45, 20));
        Assert.Equal([(0, 7)], Recorder.Plan(7, 20));
    }
}
