using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using SharpTables.Packets;
using SharpTables.Rules.Commands;
using SharpTables.Rules.Model;
using static SharpTables.Engine.Tests.Conntrack.TestPackets;

namespace SharpTables.Engine.Tests.Concurrency;

/// <summary>
/// Several threads walking packets through one engine at once (what sharptablesd's queue workers
/// do), while another thread keeps swapping the ruleset. Every expectation holds whatever the
/// interleaving, because it follows from the kernel's semantics per packet: counters add up to
/// the packets sent, a limit bucket passes exactly its burst while time stands still, a recent
/// list records every --set (oldest_pkt is the ring position after n stamps), connlimit lets
/// exactly N connections of a source through (each SYN is counted under the rule's lock), every
/// rejected SYN gets exactly one reset, and conntrack holds one entry per accepted flow, even for
/// flows whose first packets race on several threads (UDP joins the entry that won, as
/// nf_ct_resolve_clash does). Time is frozen, so nothing expires.
/// </summary>
public class ConcurrentWalkTests
{
    private const int Threads = 4, OwnFlows = 8, SharedFlows = 4, Rounds = 1000, Burst = 10000;
    private const int OwnTcpSources = 40, SharedTcpSources = 10, SynsPerSource = 5, ConnLimit = 3;
    private const string Fw = "198.51.100.1";

    private const string Rules = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n" +
        "-A INPUT -p udp\n" +
        "-A INPUT -p udp -m limit --limit 1/hour --limit-burst 10000\n" +
        "-A INPUT -p udp -m recent --name stress --set\n" +
        "-A INPUT -p tcp -m tcp --syn -m connlimit --connlimit-above 3 --connlimit-mask 32 --connlimit-saddr -j REJECT --reject-with tcp-reset\n" +
        "-A INPUT -m state --state NEW,ESTABLISHED -j ACCEPT\n" +
        "-A INPUT -j DROP\n" +
        "COMMIT\n";

    /// <summary>Counts the resets the engine sends, and where to.</summary>
    private sealed class Replies : IEngineObserver
    {
        public readonly ConcurrentBag<(uint To, ushort Port, Verdict Verdict)> Sent = [];

        public void OnLocalOut(Packet p, in PacketResult result)
        {
            var b = p.Bytes;
            Sent.Add((BinaryPrimitives.ReadUInt32BigEndian(b[16..]), BinaryPrimitives.ReadUInt16BigEndian(b[22..]), result.Verdict));
        }
    }

    private static string OwnUdpSource(int thread, int flow) => $"10.0.{thread}.{flow + 1}";
    private static string SharedUdpSource(int flow) => $"10.0.99.{flow + 1}";
    private static string OwnTcpSource(int thread, int source) => $"10.1.{thread}.{source + 1}";
    private static string SharedTcpSource(int source) => $"10.1.99.{source + 1}";

    [Fact]
    public void Concurrent_walks_and_swaps_keep_every_count_exact()
    {
        for (int run = 0; run < 4; run++) RunOnce();
    }

    private static void RunOnce()
    {
        var net = new HostNetwork();
        net.Add("eth0", [2, 0, 0, 0, 0, 1]).IPv4.Add((Ip(Fw), 24));
        net.DefaultRoute = net.Find("eth0");
        var observer = new Replies();
        var state = new EngineState(new ManualTime(), net) { Observer = observer };
        var model = Restore.Apply(new Ruleset(), Rules, new RestoreOptions());
        var first = CompiledRuleset.Compile(state, model);
        var engine = new NetfilterEngine(state, first);
        var eth0 = net.Find("eth0")!;

        // Each thread's packets: UDP rounds over its own flows and the shared ones (the very same
        // tuples on every thread), each round with a new flow of its own and a new shared one
        // (so entries keep being created, on several threads at once for the shared ones), and
        // its SYNs — to sources of its own and to shared ones — spread over the rounds.
        var work = new List<byte[]>[Threads];
        var udpTuples = new HashSet<(string, ushort)>();
        var udpPerSource = new Dictionary<string, int>();
        void AddUdp(List<byte[]> list, string src, ushort sport)
        {
            list.Add(Udp(src, Fw, sport, 53));
            udpTuples.Add((src, sport));
            udpPerSource[src] = udpPerSource.GetValueOrDefault(src) + 1;
        }
        var synPorts = new Dictionary<string, List<ushort>>();
        int syns = 0;
        for (int t = 0; t < Threads; t++)
        {
            var ownSyns = new Queue<byte[]>();
            var sharedSyns = new Queue<byte[]>();
            for (int i = 0; i < SynsPerSource; i++)
            {
                for (int src = 0; src < OwnTcpSources; src++) ownSyns.Enqueue(NewSyn(OwnTcpSource(t, src), (ushort)(2000 + i)));
                for (int src = 0; src < SharedTcpSources; src++) sharedSyns.Enqueue(NewSyn(SharedTcpSource(src), (ushort)(3000 + t * 100 + i)));
            }
            var list = work[t] = [];
            for (int r = 0; r < Rounds; r++)
            {
                for (int f = 0; f < OwnFlows; f++) AddUdp(list, OwnUdpSource(t, f), 1000);
                for (int f = 0; f < SharedFlows; f++) AddUdp(list, SharedUdpSource(f), 1000);
                AddUdp(list, OwnUdpSource(t, r % OwnFlows), (ushort)(10000 + r));
                AddUdp(list, SharedUdpSource(r % SharedFlows), (ushort)(10000 + r));
                if (ownSyns.Count > 0) list.Add(ownSyns.Dequeue());
                if (sharedSyns.Count > 0) list.Add(sharedSyns.Dequeue());
            }
            Assert.Empty(ownSyns);
        }

        byte[] NewSyn(string src, ushort sport)
        {
            if (!synPorts.TryGetValue(src, out var ports)) synPorts[src] = ports = [];
            ports.Add(sport);
            syns++;
            return Tcp(src, Fw, sport, 22, Syn);
        }

        var rulesets = new ConcurrentQueue<CompiledRuleset>();
        rulesets.Enqueue(first);
        var retired = new ConcurrentQueue<(CompiledRuleset Ruleset, ulong[] Packets)>();
        var errors = new ConcurrentQueue<Exception>();
        int running = Threads;
        var start = new Barrier(Threads + 1);
        var workers = new Thread[Threads];
        for (int t = 0; t < Threads; t++)
        {
            var mine = work[t];
            workers[t] = new Thread(() =>
            {
                try
                {
                    var p = new Packet();
                    start.SignalAndWait();
                    foreach (var bytes in mine)
                    {
                        p.Load(bytes);
                        engine.Receive(p, eth0);
                    }
                }
                catch (Exception e) { errors.Enqueue(e); }
                finally { Interlocked.Decrement(ref running); }
            });
            workers[t].Start();
        }
        start.SignalAndWait();
        // Swap the same rules in again and again: per-rule state (limit, connlimit) and the recent
        // list carry over; each compiled ruleset counts the packets that walked it. A pause between
        // swaps leaves the walkers the machine's cores most of the time.
        int swaps = 0;
        while (Volatile.Read(ref running) > 0)
        {
            Thread.Sleep(1);
            var next = CompiledRuleset.Compile(state, model);
            rulesets.Enqueue(next);
            var old = engine.Ruleset;
            engine.Swap(next);
            retired.Enqueue((old, Snapshot(old)));
            swaps++;
        }
        foreach (var w in workers) w.Join();

        Assert.Empty(errors);
        Assert.True(swaps > 0);
        // No packet walked a ruleset after its swap returned (it was disposed then).
        foreach (var (old, packets) in retired) Assert.Equal(packets, Snapshot(old));

        long udp = udpPerSource.Values.Sum();
        Assert.Equal((ulong)udp, Total(rulesets, 0));
        Assert.Equal((ulong)Burst, Total(rulesets, 1));
        Assert.Equal((ulong)udp, Total(rulesets, 2));
        int tcpSources = synPorts.Count;
        long rejected = syns - (long)tcpSources * ConnLimit;
        Assert.Equal((ulong)rejected, Total(rulesets, 3));
        Assert.Equal((ulong)(udp + syns - rejected), Total(rulesets, 4));
        Assert.Equal(0UL, Total(rulesets, 5));

        // recent: one entry per UDP source; n --set stamps leave the ring at ((n - 1) mod 32) + 1.
        var lines = state.Recent.Read("stress").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(udpPerSource.Count, lines.Length);
        foreach (var line in lines)
        {
            var m = Regex.Match(line, @"^src=(\S+) ttl: 64 last_seen: \d+ oldest_pkt: (\d+) ");
            Assert.True(m.Success, line);
            Assert.Equal((udpPerSource[m.Groups[1].Value] - 1) % 32 + 1, int.Parse(m.Groups[2].Value));
        }

        // conntrack: every UDP flow once, and the ConnLimit SYNs of each source that were let through.
        var entries = state.Conntrack.Entries.ToList();
        Assert.Equal(udpTuples.Count, entries.Count(c => c.Protocol == IpProtocol.Udp));
        Assert.Equal(tcpSources * ConnLimit, entries.Count(c => c.Protocol == IpProtocol.Tcp));
        Assert.Equal(entries.Count, state.Conntrack.Count);

        // Each rejected SYN got one reset, sent after its own walk: its ports are exactly the SYNs
        // of that source that conntrack did not keep.
        Assert.Equal(rejected, observer.Sent.Count);
        Assert.All(observer.Sent, r => Assert.Equal(Verdict.Accept, r.Verdict));
        foreach (var (src, ports) in synPorts)
        {
            var kept = entries.Where(c => c.Protocol == IpProtocol.Tcp && c.Original.Source == Ip(src)).Select(c => c.Original.SourcePort).ToList();
            var reset = observer.Sent.Where(r => r.To == Ip(src)).Select(r => r.Port).ToList();
            Assert.Equal(ConnLimit, kept.Count);
            Assert.Equal(ports.Order(), kept.Concat(reset).Order());
        }
    }

    [Fact]
    public void Counters_and_a_limit_bucket_hit_by_every_thread_lose_nothing()
    {
        // Short walks, so the threads hit the same two counters and the same bucket all the time.
        const int packets = 250_000;
        const string rules = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n" +
            "-A INPUT -p udp -m limit --limit 1/hour --limit-burst 10000\n" +
            "-A INPUT -p udp -j ACCEPT\n" +
            "COMMIT\n";
        var net = new HostNetwork();
        var eth0 = net.Add("eth0", [2, 0, 0, 0, 0, 1]);
        eth0.IPv4.Add((Ip(Fw), 24));
        var state = new EngineState(new ManualTime(), net);
        var ruleset = CompiledRuleset.Compile(state, Restore.Apply(new Ruleset(), rules, new RestoreOptions()));
        var engine = new NetfilterEngine(state, ruleset);
        var bytes = Udp("10.0.0.1", Fw, 1000, 53, payload: 12);
        var start = new Barrier(Threads);
        var workers = Enumerable.Range(0, Threads).Select(_ => new Thread(() =>
        {
            var p = new Packet();
            start.SignalAndWait();
            for (int i = 0; i < packets; i++)
            {
                p.Load(bytes);
                engine.Receive(p, eth0);
            }
        })).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());

        var input = ruleset.IPv4.Table("filter")!.Chain("INPUT")!;
        Assert.Equal(new Counters(10_000, 10_000 * 40), input.RuleCounters(0).Value);
        Assert.Equal(new Counters(Threads * packets, Threads * packets * 40UL), input.RuleCounters(1).Value);
    }

    [Fact]
    public void A_pause_stops_every_walk_until_it_is_disposed()
    {
        const string rules = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -p udp -j ACCEPT\nCOMMIT\n";
        var net = new HostNetwork();
        var eth0 = net.Add("eth0", [2, 0, 0, 0, 0, 1]);
        eth0.IPv4.Add((Ip(Fw), 24));
        var state = new EngineState(new ManualTime(), net);
        var engine = new NetfilterEngine(state, CompiledRuleset.Compile(state, Restore.Apply(new Ruleset(), rules, new RestoreOptions())));
        var counter = engine.Ruleset.IPv4.Table("filter")!.Chain("INPUT")!.RuleCounters(0);
        var bytes = Udp("10.0.0.1", Fw, 1000, 53);
        bool stop = false;
        var workers = Enumerable.Range(0, 2).Select(_ => new Thread(() =>
        {
            var p = new Packet();
            while (!Volatile.Read(ref stop))
            {
                p.Load(bytes);
                engine.Receive(p, eth0);
            }
        })).ToList();
        workers.ForEach(w => w.Start());
        try
        {
            SpinWait.SpinUntil(() => counter.Packets > 1000, 10_000);
            for (int i = 0; i < 5; i++)
            {
                ulong during;
                using (engine.Pause())
                {
                    during = counter.Packets;
                    Thread.Sleep(20);
                    Assert.Equal(during, counter.Packets);
                }
                Assert.True(SpinWait.SpinUntil(() => counter.Packets > during, 10_000), "walks did not resume");
            }
        }
        finally
        {
            Volatile.Write(ref stop, true);
            workers.ForEach(w => w.Join());
        }
    }

    private static ulong[] Snapshot(CompiledRuleset rs)
    {
        var input = rs.IPv4.Table("filter")!.Chain("INPUT")!;
        var packets = new ulong[input.RuleCount + 1];
        for (int i = 0; i < input.RuleCount; i++) packets[i] = input.RuleCounters(i).Packets;
        packets[^1] = input.PolicyCounters.Packets;
        return packets;
    }

    private static ulong Total(IEnumerable<CompiledRuleset> rulesets, int rule)
    {
        ulong sum = 0;
        foreach (var rs in rulesets) sum += Snapshot(rs)[rule];
        return sum;
    }
}
