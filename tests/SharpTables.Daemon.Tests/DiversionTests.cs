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

    [Theory]
    [InlineData("", DivertedHooks.None)]
    [InlineData(Filter + "COMMIT\n", DivertedHooks.None)]
    [InlineData(Filter + "-A INPUT -p tcp -m tcp --dport 22 -j DROP\nCOMMIT\n", DivertedHooks.Input)]
    [InlineData(Filter + "-A OUTPUT -p udp -j REJECT\nCOMMIT\n", DivertedHooks.Output)]
    [InlineData("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n", DivertedHooks.Forward)]
    // PREROUTING sees packets for this host and forwarded ones; POSTROUTING forwarded and local ones.
    [InlineData("*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j MARK --set-xmark 0x1/0xffffffff\nCOMMIT\n", DivertedHooks.Input | DivertedHooks.Forward)]
    [InlineData("*mangle\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -j TOS --set-tos 0x10/0xff\nCOMMIT\n", DivertedHooks.Forward | DivertedHooks.Output)]
    // Connection tracking needs both directions of every flow.
    [InlineData(Filter + "-A INPUT -m state --state ESTABLISHED -j ACCEPT\nCOMMIT\n", DivertedHooks.All)]
    [InlineData("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -o eth1 -j MASQUERADE\nCOMMIT\n", DivertedHooks.All)]
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
}
