namespace SharpTables.Cli.Tests;

/// <summary>
/// The ip6tables personality of the CLI: how IPv6 is selected, its own state file, and the
/// behaviours that differ from iptables. Expected texts are the real ip6tables 1.8.9 (nf_tables)
/// output (tests/fixtures/ipv6, recorded with the oracle) under our program names.
/// </summary>
public class Ipv6Tests
{
    /// <summary>/work/shared/oracle/examples/ipv6.rules6, the oracle's IPv6 worked example.</summary>
    private const string ExampleRules =
        "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n" +
        "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n" +
        "-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 128 -j ACCEPT\n" +
        "-A INPUT -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -j LOG --log-prefix \"v6 ssh: \"\n" +
        "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n" +
        "-A INPUT -m hl --hl-eq 1 -j ACCEPT\n" +
        "COMMIT\n";

    /// <summary>ip6tables -L -v -n after ip6tables-restore of <see cref="ExampleRules"/> (tests/fixtures/ipv6/example.out.txt).</summary>
    private const string ExampleListing =
        "Chain INPUT (policy DROP 0 packets, 0 bytes)\n" +
        " pkts bytes target     prot opt in     out     source               destination         \n" +
        "    0     0 ACCEPT     0    --  *      *       ::/0                 ::/0                 ctstate RELATED,ESTABLISHED\n" +
        "    0     0 ACCEPT     58   --  *      *       ::/0                 ::/0                 ipv6-icmptype 128\n" +
        "    0     0 LOG        6    --  *      *       ::/0                 ::/0                 tcp dpt:22 ctstate NEW LOG flags 0 level 4 prefix \"v6 ssh: \"\n" +
        "    0     0 ACCEPT     6    --  *      *       ::/0                 ::/0                 tcp dpt:22\n" +
        "    0     0 ACCEPT     0    --  *      *       ::/0                 ::/0                 HL match HL == 1\n" +
        "\n" +
        "Chain FORWARD (policy ACCEPT 0 packets, 0 bytes)\n" +
        " pkts bytes target     prot opt in     out     source               destination         \n" +
        "\n" +
        "Chain OUTPUT (policy ACCEPT 0 packets, 0 bytes)\n" +
        " pkts bytes target     prot opt in     out     source               destination         \n";

    private static string Body(string save) =>
        string.Join("", save.Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#')).Select(l => l + "\n"));

    [Fact]
    public void The_oracle_example_restores_saves_back_byte_for_byte_and_lists_like_ip6tables()
    {
        using var h = new CliHarness();
        Assert.Equal(0, h.RunWithInput(ExampleRules, "--as", "sharptables6-restore").Rc);
        Assert.Equal(ExampleRules, Body(h.Run("--as", "sharptables6-save").Out));
        var (rc, output, err) = h.Run("--as", "sharptables6", "-L", "-v", "-n");
        Assert.Equal((0, ""), (rc, err));
        Assert.Equal(ExampleListing, output);
    }

    [Fact]
    public void Each_family_has_its_own_rules_file()
    {
        using var h = new CliHarness();
        Assert.Equal(0, h.Run("-A", "INPUT", "-s", "192.0.2.1", "-j", "DROP").Rc);
        Assert.Equal(0, h.Run("-6", "-A", "INPUT", "-s", "2001:db8::1", "-j", "DROP").Rc);
        Assert.Contains("-A INPUT -s 192.0.2.1/32 -j DROP", File.ReadAllText(h.RulesFile));
        Assert.DoesNotContain("2001:db8", File.ReadAllText(h.RulesFile));
        var v6 = File.ReadAllText(h.RulesFile6);
        Assert.Contains("-A INPUT -s 2001:db8::1/128 -j DROP", v6);
        Assert.DoesNotContain("192.0.2.1", v6);
        Assert.Equal("-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n-A INPUT -s 2001:db8::1/128 -j DROP\n",
            h.Run("--as", "ip6tables", "-S").Out);
    }

    [Theory]
    [InlineData("-6 save")]
    [InlineData("save -6")]
    [InlineData("--as sharptables6-save")]
    [InlineData("--as ip6tables-save")]
    public void Every_way_of_asking_for_the_IPv6_save_gives_it(string words)
    {
        var args = words.Split(' ');
        using var h = new CliHarness();
        h.Run("--as", "sharptables6", "-A", "OUTPUT", "-d", "2001:db8::/32", "-j", "ACCEPT");
        Assert.Equal("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -d 2001:db8::/32 -j ACCEPT\nCOMMIT\n",
            Body(h.Run(args).Out));
    }

    [Theory]
    [InlineData("ip6tables")]
    [InlineData("sharptables6")]
    public void Errors_name_the_program_as_invoked(string name)
    {
        using var h = new CliHarness();
        var (rc, _, err) = h.Run("--as", name, "-A", "INPUT", "-f", "-j", "DROP");
        Assert.Equal(2, rc);
        Assert.Equal($"{name} v1.8.9 (nf_tables): `-f' is not supported in IPv6, use -m frag instead\n" +
                     $"Try `{name} -h' or '{name} --help' for more information.\n", err);
    }

    [Fact]
    public void Under_the_iptables_name_minus_6_is_refused_as_iptables_refuses_it()
    {
        using var h = new CliHarness();
        var (rc, _, err) = h.Run("--as", "iptables", "-6", "-L", "INPUT");
        Assert.Equal(2, rc);
        Assert.Equal("Try `iptables -h' or 'iptables --help' for more information.\n", err);
    }

    [Fact]
    public void Restore_c_keeps_chain_counters_but_not_rule_counters_like_ip6tables_nft()
    {
        using var h = new CliHarness();
        const string file = "*filter\n:INPUT DROP [10:20]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n[3:180] -A INPUT -s fe80::/10 -j ACCEPT\nCOMMIT\n";
        Assert.Equal(0, h.RunWithInput(file, "-6", "restore", "-c").Rc);
        Assert.Equal("*filter\n:INPUT DROP [10:20]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n[0:0] -A INPUT -s fe80::/10 -j ACCEPT\nCOMMIT\n",
            Body(h.Run("-6", "save", "-c").Out));
    }

    [Fact]
    public void The_state_file_keeps_rule_counters_across_invocations()
    {
        using var h = new CliHarness();
        Directory.CreateDirectory(h.StateDir);
        File.WriteAllText(h.RulesFile6, "*filter\n:INPUT ACCEPT [1:2]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n[5:300] -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n");
        Assert.Equal(0, h.Run("-6", "-A", "INPUT", "-j", "DROP").Rc);
        Assert.Equal("-P INPUT ACCEPT -c 1 2\n-P FORWARD ACCEPT -c 0 0\n-P OUTPUT ACCEPT -c 0 0\n" +
                     "-A INPUT -p tcp -m tcp --dport 22 -c 5 300 -j ACCEPT\n-A INPUT -c 0 0 -j DROP\n",
            h.Run("-6", "-S", "-v").Out);
    }

    [Fact]
    public void Both_families_share_the_lock_and_lose_no_update()
    {
        using var h = new CliHarness();
        const int n = 6;
        var procs = Enumerable.Range(0, n)
            .SelectMany(i => new[]
            {
                h.Start("-A", "INPUT", "-s", $"10.0.0.{i + 1}", "-j", "ACCEPT"),
                h.Start("-6", "-A", "INPUT", "-s", $"2001:db8::{i + 1}", "-j", "ACCEPT"),
            })
            .ToList();
        foreach (var p in procs)
        {
            Assert.True(p.WaitForExit(120_000), "a sharptables process hung");
            Assert.Equal(0, p.ExitCode);
        }
        Assert.Equal(n, h.Run("-S", "INPUT").Out.Split('\n').Count(l => l.StartsWith("-A INPUT -s 10.0.0.", StringComparison.Ordinal)));
        Assert.Equal(n, h.Run("-6", "-S", "INPUT").Out.Split('\n').Count(l => l.StartsWith("-A INPUT -s 2001:db8::", StringComparison.Ordinal)));
    }
}
