using SharpTables.Engine;
using SharpTables.Rules.Commands;
using SharpTables.Rules.Model;

namespace SharpTables.Daemon.Tests;

/// <summary>Which kernel hooks a ruleset needs diverted, and the iptables commands that do it.</summary>
public sealed class DiversionTests
{
    private static DivertedHooks Plan(string rules)
    {
        var ruleset = Restore.Apply(new Ruleset(Family.IPv4), rules, new RestoreOptions());
        var state = new EngineState();
        return Diversion.Plan(CompiledRuleset.Compile(state, ruleset).IPv4);
    }

    private const string Filter = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n";
    private const string Nat = "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n";

    [Theory]
    [InlineData("", DivertedHooks.None)]
    [InlineData(Filter + "COMMIT\n", DivertedHooks.None)]
    [InlineData(Filter + "-A INPUT -p tcp -m tcp --dport 22 -j DROP\nCOMMIT\n", DivertedHooks.Input)]
    [InlineData(Filter + "-A OUTPUT -p udp -j REJECT\nCOMMIT\n", DivertedHooks.Output)]
    [InlineData("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n", DivertedHooks.Forward)]
    // PREROUTING rules are judged before the kernel routes (their rewrites decide the route);
    // POSTROUTING sees forwarded and local packets, and their rewrites can go back at FORWARD.
    [InlineData("*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j MARK --set-xmark 0x1/0xffffffff\nCOMMIT\n", DivertedHooks.PreRouting)]
    [InlineData("*mangle\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -j TOS --set-tos 0x10/0xff\nCOMMIT\n", DivertedHooks.Forward | DivertedHooks.Output)]
    // Connection tracking needs both directions of every flow.
    [InlineData(Filter + "-A INPUT -m state --state ESTABLISHED -j ACCEPT\nCOMMIT\n", DivertedHooks.All)]
    // NAT: arriving packets at PREROUTING, sent ones at OUTPUT, and the second pass of a new source.
    [InlineData(Nat + "-A POSTROUTING -o eth1 -j MASQUERADE\nCOMMIT\n", DivertedHooks.PreRouting | DivertedHooks.Output | DivertedHooks.SourceNat)]
    [InlineData(Nat + "-A PREROUTING -p tcp -m tcp --dport 8080 -j REDIRECT --to-ports 80\nCOMMIT\n", DivertedHooks.PreRouting | DivertedHooks.Output | DivertedHooks.SourceNat)]
    // An empty nat table still translates the replies of connections NATed before.
    [InlineData(Nat + "COMMIT\n", DivertedHooks.PreRouting | DivertedHooks.Output | DivertedHooks.SourceNat)]
    [InlineData(Filter + "-A INPUT -m state --state ESTABLISHED -j ACCEPT\nCOMMIT\n*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A PREROUTING -p udp -j NOTRACK\nCOMMIT\n", DivertedHooks.PreRouting | DivertedHooks.Output)]
    public void Only_the_hooks_the_ruleset_uses_are_diverted(string rules, DivertedHooks expected) =>
        Assert.Equal(expected, Plan(rules));

    [Fact]
    public void The_queue_rule_sits_in_its_own_chain_and_lo_is_left_to_output()
    {
        var d = new Diversion("iptables", DivertedHooks.Input | DivertedHooks.Output, 3, 2, failOpen: true);
        var lines = d.InstallCommands().Select(a => string.Join(' ', a)).ToList();
        Assert.Equal(
        [
            "-t filter -N SHARPTABLESD",
            "-t filter -A SHARPTABLESD -j NFQUEUE --queue-balance 3:4 --queue-bypass",
            "-t filter -I INPUT 1 ! -i lo -m mark ! --mark 0x53544400 -j SHARPTABLESD",
            "-t filter -I OUTPUT 1 -m mark ! --mark 0x53544400 -j SHARPTABLESD",
        ], lines);
    }

    [Fact]
    public void Without_output_diverted_loopback_input_is_judged_at_input()
    {
        var d = new Diversion("iptables", DivertedHooks.Input, 0, 1, failOpen: false);
        var lines = d.InstallCommands().Select(a => string.Join(' ', a)).ToList();
        Assert.Contains("-t filter -A SHARPTABLESD -j NFQUEUE --queue-num 0", lines);
        Assert.Contains("-t filter -I INPUT 1 -m mark ! --mark 0x53544400 -j SHARPTABLESD", lines);
        Assert.DoesNotContain(lines, l => l.Contains("--queue-bypass") || l.Contains("OUTPUT") || l.Contains("FORWARD"));
    }

    [Fact]
    public void Nat_diverts_at_raw_prerouting_and_queues_ticketed_packets_again_in_mangle()
    {
        var d = new Diversion("iptables", DivertedHooks.PreRouting | DivertedHooks.Output | DivertedHooks.SourceNat, 0, 1, failOpen: false);
        var lines = d.InstallCommands().Select(a => string.Join(' ', a)).ToList();
        Assert.Equal(
        [
            "-t mangle -N SHARPTABLESD",
            "-t mangle -A SHARPTABLESD -j NFQUEUE --queue-num 0",
            "-t mangle -I INPUT 1 -m mark --mark 0x53550000/0xffff0000 -j SHARPTABLESD",
            "-t mangle -I POSTROUTING 1 -m mark --mark 0x53550000/0xffff0000 -j SHARPTABLESD",
            "-t filter -N SHARPTABLESD",
            "-t filter -A SHARPTABLESD -j NFQUEUE --queue-num 0",
            "-t filter -I OUTPUT 1 -m mark ! --mark 0x53544400 -j SHARPTABLESD",
            "-t raw -N SHARPTABLESD",
            "-t raw -A SHARPTABLESD -j NFQUEUE --queue-num 0",
            "-t raw -I PREROUTING 1 ! -i lo -m mark ! --mark 0x53544400 -j SHARPTABLESD",
        ], lines);
    }

    [Fact]
    public void Tickets_are_marks_the_diversion_recognises_and_are_taken_once()
    {
        var tickets = new SourceTickets();
        uint t = tickets.Issue(4, 6, 0xc6336402, 0xcb007102, 0xcb007101, 0x7);
        Assert.True(SourceTickets.IsTicket(t));
        Assert.False(SourceTickets.IsTicket(Diversion.BypassMark));
        // A packet that is not the one the ticket was issued for does not get its source.
        Assert.False(tickets.TryTake(t, 4, 17, 0xc6336402, 0xcb007102, out _, out _));
        Assert.True(tickets.TryTake(t, 4, 6, 0xc6336402, 0xcb007102, out var source, out uint mark));
        Assert.Equal((UInt128)0xcb007101, source);
        Assert.Equal(0x7u, mark);
        Assert.False(tickets.TryTake(t, 4, 6, 0xc6336402, 0xcb007102, out _, out _));
    }
}
