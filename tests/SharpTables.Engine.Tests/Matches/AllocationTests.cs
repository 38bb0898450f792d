using SharpTables.Engine.Conntrack;

namespace SharpTables.Engine.Tests.Matches;

/// <summary>The packet path of every match and target of this folder allocates nothing.</summary>
public class AllocationTests
{
    private static readonly string[] MatchRules =
    [
        "-p tcp --dport 22", "-p tcp ! --sport 1 ! --dport 2", "-p tcp --syn", "-p tcp --tcp-option 2", "-p tcp -m tcp",
        "-p udp --dport 53", "-p udp -m udp", "-p icmp --icmp-type echo-request", "-p tcp -m multiport --ports 1:100,443",
        "-m iprange --src-range 10.0.0.1-10.0.0.9", "-m comment --comment x", "-m mac --mac-source 00:11:22:33:44:55",
        "-m length --length 40:60", "-m ttl --ttl-lt 10", "-m pkttype --pkt-type broadcast",
        "-m addrtype --dst-type LOCAL --limit-iface-in", "-m addrtype --src-type BROADCAST", "-m tos --tos 0x10",
        "-m dscp --dscp 10", "-m state --state NEW", "-m conntrack --ctstate DNAT --ctorigsrc 10.0.0.0/8 --ctexpire 10:20 --ctdir REPLY",
        "-m mark --mark 1/3", "-m connmark ! --mark 1",
    ];

    private static readonly (string Table, string Chain, string Rule)[] TargetRules =
    [
        ("mangle", "FORWARD", "-j MARK --set-mark 5"), ("mangle", "FORWARD", "-j CONNMARK --save-mark"),
        ("mangle", "FORWARD", "-j DSCP --set-dscp 1"), ("mangle", "FORWARD", "-j TOS --set-tos 0x10"),
        ("mangle", "FORWARD", "-j TTL --ttl-dec 1"), ("mangle", "FORWARD", "-p tcp -j TCPMSS --set-mss 500"),
        ("mangle", "FORWARD", "-p tcp -j TCPMSS --clamp-mss-to-pmtu"), ("raw", "PREROUTING", "-j CT --zone 3"),
        ("raw", "PREROUTING", "-j NOTRACK"), ("raw", "PREROUTING", "-j TRACE"), ("filter", "INPUT", "-j NFQUEUE --queue-balance 0:3"),
        ("filter", "INPUT", "-j NFLOG --nflog-prefix x"),
    ];

    [Fact]
    public void Matching_and_targets_allocate_nothing()
    {
        var state = new EngineState(new ManualTime());
        state.Network.Add("eth0").IPv4.Add((0xC6336401, 24));
        var matches = new List<CompiledMatch>();
        foreach (var rule in MatchRules)
        {
            var r = RuleUnderTest.Parse(rule);
            foreach (var m in r.Matches) matches.Add(CompilerRegistry.CompileMatch(m, RuleUnderTest.Context(r, state)));
        }
        var targets = new List<CompiledTarget>();
        foreach (var (table, chain, rule) in TargetRules)
        {
            var r = RuleUnderTest.Parse(rule, table, chain);
            targets.Add(CompilerRegistry.CompileTarget(r.Target!, RuleUnderTest.Context(r, state, table, chain)));
        }
        var bytes = Pkt.Build("tcp opts=0101040a");
        var p = new Packet();
        var conn = new Connection { Status = ConnStatus.DstNat };
        var ctx = new TargetContext(state, "mangle", "FORWARD", 1);

        void Round()
        {
            p.Load(bytes);
            p.In = state.Network.Interfaces[1];
            p.Conn = conn;
            bool hotdrop = false;
            foreach (var m in matches) m.Matches(p, ref hotdrop);
            foreach (var t in targets) t.Execute(p, ctx);
        }

        Round();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++) Round();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
