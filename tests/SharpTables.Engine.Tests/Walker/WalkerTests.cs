using SharpTables.Rules.Model;
using static SharpTables.Engine.Tests.Walker.WalkerTestKit;

namespace SharpTables.Engine.Tests.Walker;

/// <summary>
/// Chain traversal as ipt_do_table does it: counters grow when a rule's matches all match, jumps
/// return to the next rule, goto does not, RETURN in a built-in chain (or the end of a chain
/// reached by goto from it) means the policy, which counts too.
/// </summary>
public class WalkerTests
{
    private static PacketResult In(NetfilterEngine e, byte[] bytes, string iface = "eth0")
    {
        var p = new Packet();
        p.Load(bytes);
        return e.Receive(p, e.State.Network.Find(iface)!);
    }

    private static Counters Rule(NetfilterEngine e, string table, string chain, int number) =>
        e.Ruleset.IPv4.Table(table)!.Chain(chain)!.RuleCounters(number - 1).Value;

    private static Counters Policy(NetfilterEngine e, string table, string chain) =>
        e.Ruleset.IPv4.Table(table)!.Chain(chain)!.PolicyCounters.Value;

    [Fact]
    public void First_matching_terminal_rule_decides_and_counts_bytes_of_the_ip_packet()
    {
        var (e, _) = Load("""
            *filter
            :INPUT DROP [0:0]
            -A INPUT -s 198.51.100.9/32 -j DROP
            -A INPUT -p udp -j ACCEPT
            -A INPUT -p udp -j DROP
            COMMIT
            """);
        var r = In(e, V4("198.51.100.2", "198.51.100.1", 17, payload: 12));
        Assert.Equal(Verdict.Accept, r.Verdict);
        Assert.True(r.Local);
        Assert.Equal(("filter", "INPUT", 2), (r.Table, r.Chain, r.Rule));
        Assert.Equal(new Counters(0, 0).ToString(), Rule(e, "filter", "INPUT", 1).ToString());
        Assert.Equal("[1:40]", Rule(e, "filter", "INPUT", 2).ToString());
        Assert.Equal("[0:0]", Rule(e, "filter", "INPUT", 3).ToString());

        r = In(e, V4("198.51.100.2", "198.51.100.1", 6));
        Assert.Equal(Verdict.Drop, r.Verdict);
        Assert.Equal(("filter", "INPUT", 0), (r.Table, r.Chain, r.Rule));
        Assert.Equal("[1:40]", Policy(e, "filter", "INPUT").ToString());
    }

    [Fact]
    public void Jump_returns_to_the_next_rule_and_rules_without_target_only_count()
    {
        var (e, _) = Load("""
            *filter
            :INPUT ACCEPT [0:0]
            :SUB - [0:0]
            -A INPUT -j SUB
            -A INPUT -p tcp
            -A INPUT -p tcp -j DROP
            -A SUB -p udp -j RETURN
            -A SUB -p tcp
            COMMIT
            """);
        var r = In(e, V4("198.51.100.2", "198.51.100.1", 6));
        Assert.Equal(Verdict.Drop, r.Verdict);
        Assert.Equal(3, r.Rule);
        Assert.Equal("[1:40]", Rule(e, "filter", "INPUT", 1).ToString());
        Assert.Equal("[1:40]", Rule(e, "filter", "INPUT", 2).ToString());
        Assert.Equal("[1:40]", Rule(e, "filter", "SUB", 2).ToString());

        r = In(e, V4("198.51.100.2", "198.51.100.1", 17));
        Assert.Equal(Verdict.Accept, r.Verdict);
        Assert.Equal("[1:28]", Rule(e, "filter", "SUB", 1).ToString());
        Assert.Equal("[1:28]", Policy(e, "filter", "INPUT").ToString());
    }

    [Fact]
    public void Goto_does_not_come_back_and_return_in_a_builtin_chain_is_the_policy()
    {
        var (e, _) = Load("""
            *filter
            :INPUT DROP [0:0]
            :G - [0:0]
            -A INPUT -p udp -g G
            -A INPUT -p udp -j ACCEPT
            -A INPUT -p tcp -j RETURN
            -A INPUT -j ACCEPT
            -A G -p udp -s 198.51.100.77 -j ACCEPT
            COMMIT
            """);
        // goto G, G ends without verdict: back to INPUT's caller = the policy, not to rule 2
        var r = In(e, V4("198.51.100.2", "198.51.100.1", 17));
        Assert.Equal(Verdict.Drop, r.Verdict);
        Assert.Equal("[0:0]", Rule(e, "filter", "INPUT", 2).ToString());
        Assert.Equal("[1:28]", Policy(e, "filter", "INPUT").ToString());
        // RETURN in INPUT: policy DROP, and rule 4 never sees it
        r = In(e, V4("198.51.100.2", "198.51.100.1", 6));
        Assert.Equal(Verdict.Drop, r.Verdict);
        Assert.Equal("[0:0]", Rule(e, "filter", "INPUT", 4).ToString());
        Assert.Equal("[2:68]", Policy(e, "filter", "INPUT").ToString());
    }

    [Fact]
    public void Interface_wildcards_inversions_and_fragments_in_the_rule_header()
    {
        var (e, _) = Load("""
            *raw
            :PREROUTING ACCEPT [0:0]
            :OUTPUT ACCEPT [0:0]
            -A PREROUTING -f
            -A PREROUTING ! -f
            COMMIT
            *filter
            :INPUT ACCEPT [0:0]
            -A INPUT -i eth+ -p udp
            -A INPUT ! -i eth1 -p udp
            -A INPUT -i eth1 -p udp
            -A INPUT ! -s 198.51.100.0/24
            COMMIT
            """);
        In(e, V4("198.51.100.2", "198.51.100.1", 17));
        In(e, V4("203.0.113.2", "198.51.100.1", 17), "eth1");
        // A non-first fragment (offset 24 bytes): -f matches it in PREROUTING, but ip_local_deliver
        // holds it for reassembly before INPUT, so no INPUT rule ever sees it.
        var r = In(e, V4("198.51.100.2", "198.51.100.1", 17, fragField: 0x0003));
        Assert.Equal(Verdict.Stolen, r.Verdict);
        Assert.Equal(1UL, Rule(e, "raw", "PREROUTING", 1).Packets);
        Assert.Equal(2UL, Rule(e, "raw", "PREROUTING", 2).Packets);
        Assert.Equal(2UL, Rule(e, "filter", "INPUT", 1).Packets);
        Assert.Equal(1UL, Rule(e, "filter", "INPUT", 2).Packets);
        Assert.Equal(1UL, Rule(e, "filter", "INPUT", 3).Packets);
        Assert.Equal(1UL, Rule(e, "filter", "INPUT", 4).Packets);
    }

    [Fact]
    public void Tables_run_in_priority_order_per_hook()
    {
        // raw -300, mangle -150, filter 0, security 50: a DROP in raw means later tables never count.
        var (e, _) = Load("""
            *mangle
            :PREROUTING ACCEPT [0:0]
            :INPUT ACCEPT [0:0]
            :FORWARD ACCEPT [0:0]
            :OUTPUT ACCEPT [0:0]
            :POSTROUTING ACCEPT [0:0]
            -A PREROUTING -p udp
            -A INPUT -p udp
            COMMIT
            *security
            :INPUT ACCEPT [0:0]
            :FORWARD ACCEPT [0:0]
            :OUTPUT ACCEPT [0:0]
            -A INPUT -p udp
            COMMIT
            *raw
            :PREROUTING ACCEPT [0:0]
            :OUTPUT ACCEPT [0:0]
            -A PREROUTING -p udp -s 198.51.100.3 -j DROP
            COMMIT
            *filter
            :INPUT ACCEPT [0:0]
            :FORWARD ACCEPT [0:0]
            :OUTPUT ACCEPT [0:0]
            -A INPUT -p udp -j DROP
            COMMIT
            """);
        var r = In(e, V4("198.51.100.3", "198.51.100.1", 17));
        Assert.Equal(("raw", "PREROUTING", 1), (r.Table, r.Chain, r.Rule));
        Assert.Equal(0UL, Rule(e, "mangle", "PREROUTING", 1).Packets);
        r = In(e, V4("198.51.100.2", "198.51.100.1", 17));
        Assert.Equal(Verdict.Drop, r.Verdict);
        Assert.Equal(("filter", "INPUT", 1), (r.Table, r.Chain, r.Rule));
        Assert.Equal(1UL, Rule(e, "mangle", "PREROUTING", 1).Packets);
        Assert.Equal(1UL, Rule(e, "mangle", "INPUT", 1).Packets);
        Assert.Equal(0UL, Rule(e, "security", "INPUT", 1).Packets); // after filter's DROP
    }

    [Fact]
    public void Forwarding_decrements_ttl_before_forward_and_needs_ip_forward()
    {
        const string rules = """
            *filter
            :INPUT ACCEPT [0:0]
            :FORWARD ACCEPT [0:0]
            :OUTPUT ACCEPT [0:0]
            -A FORWARD -i eth0 -o eth1 -p udp -j ACCEPT
            COMMIT
            """;
        var (off, _) = Load(rules);
        var r = In(off, V4("198.51.100.2", "203.0.113.2", 17));
        Assert.Equal(Verdict.Drop, r.Verdict);
        Assert.Null(r.Table);
        var (on, _) = Load(rules, forwarding: true);
        var p = new Packet();
        p.Load(V4("198.51.100.2", "203.0.113.2", 17, ttl: 64));
        r = on.Receive(p, on.State.Network.Find("eth0")!);
        Assert.Equal(Verdict.Accept, r.Verdict);
        Assert.Equal("eth1", r.Out!.Name);
        Assert.Equal(63, p.Info.Ttl);
        Assert.Equal(0, SharpTables.Packets.Checksum.Compute(p.Bytes[..20]));
        // TTL 1 dies in ip_forward, before the FORWARD hook
        r = In(on, V4("198.51.100.2", "203.0.113.2", 17, ttl: 1));
        Assert.Equal(Verdict.Drop, r.Verdict);
        Assert.Equal(1UL, on.Ruleset.IPv4.Table("filter")!.Chain("FORWARD")!.RuleCounters(0).Packets);
    }

    [Fact]
    public void Malformed_ip_headers_are_dropped_before_prerouting()
    {
        var (e, _) = Load("""
            *raw
            :PREROUTING ACCEPT [0:0]
            :OUTPUT ACCEPT [0:0]
            -A PREROUTING
            COMMIT
            """);
        var good = V4("198.51.100.2", "198.51.100.1", 17);
        var badSum = (byte[])good.Clone();
        badSum[10] ^= 0xff;
        var cut = good[..25];
        Assert.Equal(Verdict.Drop, In(e, badSum).Verdict);
        Assert.Equal(Verdict.Drop, In(e, cut).Verdict);
        Assert.Equal(Verdict.Drop, In(e, [0x45, 0, 0]).Verdict);
        Assert.Equal(0UL, Rule(e, "raw", "PREROUTING", 1).Packets);
        Assert.Equal(Verdict.Accept, In(e, good).Verdict);
        Assert.Equal(1UL, Rule(e, "raw", "PREROUTING", 1).Packets);
    }
}
