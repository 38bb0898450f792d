using BenchmarkDotNet.Attributes;
using SharpTables.Engine;
using SharpTables.Rules.Commands;
using SharpTables.Rules.Model;
using SharpTables.Simulation;

/// <summary>
/// Packets per second through the engine (packet in, verdict out) and allocations per packet
/// (must be zero): the seed web-host ruleset with a mix of its traffic, and the ClassBench sets
/// (1K/10K/100K rules, read from shared/bench/classbench; skipped when absent).
/// Each invocation pushes <see cref="Batch"/> packets; BenchmarkDotNet reports time per packet.
/// </summary>
[MemoryDiagnoser]
public class PacketPathBenchmark
{
    private const int Batch = 1024;
    private NetfilterEngine _engine = null!;
    private NetInterface _eth0 = null!;
    private byte[][] _packets = [];
    private readonly Packet _p = new();

    [Params("webhost", "acl1_1K", "acl1_10K", "acl1_100K")]
    public string RuleSet { get; set; } = "webhost";

    [GlobalSetup]
    public void Setup()
    {
        var dir = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(dir, "SharpTables.slnx"))) dir = Path.GetDirectoryName(dir)!;
        var net = new HostNetwork();
        _eth0 = net.Add("eth0", [2, 0, 0, 0, 0, 2]);
        _eth0.IPv4.Add((0xC6336401, 24));
        var state = new EngineState(new ManualTime(), net);
        Ruleset rules;
        if (RuleSet == "webhost")
        {
            var shared = Environment.GetEnvironmentVariable("SHARPTABLES_SHARED") ?? Path.Combine(dir, "..", "shared");
            rules = Restore.Apply(new Ruleset(), File.ReadAllText(Path.Combine(shared, "oracle", "examples", "webhost.rules")), new RestoreOptions());
            // HTTP SYNs and bare ACKs from many sources, UDP to a closed port: rules 1-9 and the policy.
            var list = new List<byte[]>();
            for (int i = 0; i < Batch; i++)
            {
                var spec = (i % 4) switch
                {
                    0 => (6, 80, (byte)0x02),
                    1 => (6, 80, (byte)0x10),
                    2 => (6, 12345, (byte)0x02),
                    _ => (17, 5353, (byte)0),
                };
                list.Add(ClassBench.Packet(new ClassBenchHeader(0xC6336400u + (uint)(2 + i % 200), 0xC6336401, (ushort)(40000 + i), (ushort)spec.Item2, (byte)spec.Item1, 0)));
            }
            _packets = [.. list];
        }
        else
        {
            var data = ClassBench.DataDirectory(dir) ?? throw new InvalidOperationException("ClassBench data not found in ../shared/bench/classbench");
            rules = Restore.Apply(new Ruleset(), ClassBench.RulesAsRestore(data, RuleSet), new RestoreOptions());
            _packets = ClassBench.Headers(data, RuleSet, Batch).Select(h => ClassBench.Packet(h)).ToArray();
        }
        _engine = new NetfilterEngine(state, CompiledRuleset.Compile(state, rules));
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public int Receive()
    {
        int accepted = 0;
        var p = _p;
        foreach (var bytes in _packets)
        {
            p.Load(bytes);
            if (_engine.Receive(p, _eth0).Verdict == Verdict.Accept) accepted++;
        }
        return accepted;
    }
}
