using SharpTables.Engine.Conntrack;
using SharpTables.Rules.Commands;
using SharpTables.Rules.Model;

namespace SharpTables.Engine.Tests.Conntrack;

/// <summary>
/// Drives conntrack and NAT the way the chain walker will: Defrag and In at PREROUTING/OUTPUT,
/// nat chain + Complete where the nat table sits, Confirm at the end of INPUT/POSTROUTING.
/// </summary>
internal sealed class Harness
{
    public Harness(ConntrackOptions? options = null)
    {
        Time = new ManualTime();
        Network = new HostNetwork();
        Eth0 = Network.Add("eth0");
        Eth0.IPv4.Add((TestPackets.Ip("198.51.100.1"), 24));
        Eth1 = Network.Add("eth1");
        Eth1.IPv4.Add((TestPackets.Ip("203.0.113.1"), 24));
        State = new EngineState(Time, Network, options);
    }

    public ManualTime Time { get; }
    public HostNetwork Network { get; }
    public NetInterface Eth0 { get; }
    public NetInterface Eth1 { get; }
    public EngineState State { get; }
    public ConntrackTable Table => State.Conntrack;
    public Packet P { get; } = new();

    /// <summary>A received packet for this host: PREROUTING conntrack, then confirmed at INPUT.</summary>
    public Packet Receive(byte[] bytes, bool confirm = true)
    {
        Start(bytes, Hook.PreRouting, Eth0, null);
        Assert.True(Table.In(P));
        if (confirm) Assert.True(Table.Confirm(P));
        return P;
    }

    /// <summary>A packet this host sends: OUTPUT conntrack, confirmed at POSTROUTING.</summary>
    public Packet Send(byte[] bytes, bool confirm = true)
    {
        Start(bytes, Hook.Output, null, Eth0);
        Assert.True(Table.In(P));
        if (confirm) Assert.True(Table.Confirm(P));
        return P;
    }

    /// <summary>A forwarded packet through the nat hooks, with an optional nat rule at PREROUTING and POSTROUTING. Returns the confirm result.</summary>
    public bool Forward(byte[] bytes, NetInterface inIf, NetInterface outIf, CompiledTarget? pre = null, CompiledTarget? post = null)
    {
        Start(bytes, Hook.PreRouting, inIf, null);
        if (!Table.Defrag(P)) return false;
        Assert.True(Table.In(P));
        if (!Nat(Hook.PreRouting, pre)) return false;
        P.Hook = Hook.PostRouting;
        P.Out = outIf;
        if (!Nat(Hook.PostRouting, post)) return false;
        return Table.Confirm(P);
    }

    private bool Nat(Hook hook, CompiledTarget? target)
    {
        P.Hook = hook;
        if (State.Nat.NeedsChain(P, hook) && target != null)
        {
            var v = target.Execute(P, new TargetContext(State, "nat", hook.ToString().ToUpperInvariant(), 1));
            if (v == TargetVerdict.Drop) return false;
        }
        return State.Nat.Complete(P, hook);
    }

    private void Start(byte[] bytes, Hook hook, NetInterface? inIf, NetInterface? outIf)
    {
        P.Load(bytes);
        P.Hook = hook;
        P.In = inIf;
        P.Out = outIf;
    }

    /// <summary>Compiles the target of one nat rule given in iptables syntax.</summary>
    public CompiledTarget NatRule(string chain, params string[] rule)
    {
        var ruleset = new Ruleset();
        var exec = new CommandExecutor(ruleset);
        exec.Run(["-t", "nat", "-A", chain, .. rule]);
        var r = ruleset.Find("nat")!.Find(chain)!.Rules.Single().Rule;
        var ctx = new CompileContext { State = State, Family = Family.IPv4, Table = "nat", Chain = chain, Rule = r };
        return CompilerRegistry.CompileTarget(r.Target!, ctx);
    }

    /// <summary>/proc/net/nf_conntrack with runs of spaces collapsed, as oracle-run records it.</summary>
    public string[] Proc() => Table.ProcLines().Select(l => string.Join(' ', l.Split(' ', StringSplitOptions.RemoveEmptyEntries))).ToArray();
}
