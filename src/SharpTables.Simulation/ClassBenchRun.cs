using SharpTables.Engine;
using SharpTables.Rules.Commands;
using SharpTables.Rules.Model;

namespace SharpTables.Simulation;

/// <summary>Runs a ClassBench trace through the engine and compares each header's first match.</summary>
public static class ClassBenchRun
{
    public sealed record Outcome(int Headers, List<string> Mismatches, TimeSpan Elapsed);

    private sealed class FirstRule : IEngineObserver
    {
        public int Rule;
        public bool Tracing => true;
        public void OnTrace(Packet p, string table, string chain, TraceKind kind, int ruleNumber)
        {
            if (Rule == 0) Rule = kind == TraceKind.Policy ? -1 : ruleNumber;
        }
    }

    public static Outcome Run(string dataDir, string set, int limit = int.MaxValue, Action<int>? progress = null)
    {
        var ruleset = Restore.Apply(new Ruleset(), ClassBench.RulesAsRestore(dataDir, set), new RestoreOptions());
        var net = new HostNetwork();
        var eth0 = net.Add("eth0");
        var state = new EngineState(new ManualTime(), net);
        var observer = new FirstRule();
        state.Observer = observer;
        var engine = new NetfilterEngine(state, CompiledRuleset.Compile(state, ruleset));
        var p = new Packet();
        var mismatches = new List<string>();
        int n = 0;
        var sw = System.Diagnostics.Stopwatch.StartNew();
        foreach (var h in ClassBench.Headers(dataDir, set, limit))
        {
            p.Load(ClassBench.Packet(h));
            observer.Rule = 0;
            engine.Receive(p, eth0);
            int got = observer.Rule - 1; // 1-based rule number → ClassBench index; policy → -2
            if (got != h.FirstMatch && mismatches.Count < 100)
                mismatches.Add($"header {n}: expected rule {h.FirstMatch}, engine matched {(observer.Rule < 0 ? "none" : got.ToString())}");
            n++;
            progress?.Invoke(n);
        }
        return new Outcome(n, mismatches, sw.Elapsed);
    }
}
