using SharpTables.Engine;
using SharpTables.Rules.Commands;
using SharpTables.Rules.Model;

namespace SharpTables.Simulation.Tests;

/// <summary>The packet path (packet in, verdict out) allocates nothing once warm, for the web-host ruleset's traffic mix and a ClassBench set.</summary>
public class AllocationTests
{
    private static long Allocated(NetfilterEngine engine, NetInterface eth0, byte[][] packets, int rounds)
    {
        var p = new Packet();
        for (int r = 0; r < 2; r++) foreach (var b in packets) { p.Load(b); engine.Receive(p, eth0); } // warm up
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int r = 0; r < rounds; r++) foreach (var b in packets) { p.Load(b); engine.Receive(p, eth0); }
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    [Fact]
    public void Webhost_traffic_allocates_nothing_per_packet()
    {
        var net = new HostNetwork();
        var eth0 = net.Add("eth0", [2, 0, 0, 0, 0, 2]);
        eth0.IPv4.Add((0xC6336401, 24));
        var state = new EngineState(new ManualTime(), net);
        var rules = Restore.Apply(new Ruleset(), File.ReadAllText(Path.Combine(Paths.Shared, "oracle", "examples", "webhost.rules")), new RestoreOptions());
        var engine = new NetfilterEngine(state, CompiledRuleset.Compile(state, rules));
        // SYNs and bare ACKs to 80 and 22, SYNs to a closed port, NULL and XMAS scans, UDP: every rule of the set is exercised.
        var packets = new List<byte[]>();
        byte[] flags = [0x02, 0x10, 0x00, 0x3f, 0x29];
        for (int i = 0; i < 200; i++)
            packets.Add(Wire.Build(new WireSpec
            {
                Src = 0xC6336402u + (uint)(i % 50), Dst = 0xC6336401, SrcPort = (ushort)(40000 + i % 7),
                DstPort = (ushort)(i % 3 == 0 ? 22 : i % 3 == 1 ? 80 : 12345), TcpFlags = flags[i % flags.Length], Id = (ushort)i,
            }));
        Assert.Equal(0, Allocated(engine, eth0, [.. packets], 20));
    }
}
