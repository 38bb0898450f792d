namespace SharpTables.Cli.Tests;

public class StateTests
{
    [Fact]
    public void Rules_persist_between_invocations_with_counters()
    {
        using var h = new CliHarness();
        Assert.Equal(0, h.Run("-A", "INPUT", "-p", "tcp", "--dport", "22", "-c", "5", "300", "-j", "ACCEPT").Rc);
        Assert.Equal(0, h.Run("-P", "INPUT", "DROP").Rc);
        var (rc, output, _) = h.Run("-S", "-v");
        Assert.Equal(0, rc);
        Assert.Equal("-P INPUT DROP -c 0 0\n-P FORWARD ACCEPT -c 0 0\n-P OUTPUT ACCEPT -c 0 0\n-A INPUT -p tcp -m tcp --dport 22 -c 5 300 -j ACCEPT\n", output);
    }

    [Fact]
    public void State_directory_comes_from_the_environment_when_no_option_is_given()
    {
        using var h = new CliHarness();
        var prev = Environment.GetEnvironmentVariable("SHARPTABLES_STATE_DIR");
        Environment.SetEnvironmentVariable("SHARPTABLES_STATE_DIR", h.StateDir);
        try
        {
            var o = new StringWriter();
            Assert.Equal(0, SharpTablesCli.Run(["-N", "FROMENV"], o, new StringWriter(), TextReader.Null));
        }
        finally { Environment.SetEnvironmentVariable("SHARPTABLES_STATE_DIR", prev); }
        Assert.Contains(":FROMENV - [0:0]", File.ReadAllText(h.RulesFile));
    }

    [Fact]
    public void A_failing_command_leaves_the_rules_file_byte_for_byte_unchanged()
    {
        using var h = new CliHarness();
        h.Run("-A", "INPUT", "-s", "10.0.0.1", "-j", "DROP");
        var before = File.ReadAllBytes(h.RulesFile);
        var (rc, _, err) = h.Run("-A", "INPUT", "-p", "tcp", "--dport", "99999", "-j", "ACCEPT");
        Assert.Equal(2, rc);
        Assert.Equal("sharptables v1.8.9 (nf_tables): invalid port/service `99999' specified\nTry `sharptables -h' or 'sharptables --help' for more information.\n", err);
        Assert.Equal(before, File.ReadAllBytes(h.RulesFile));
        Assert.Empty(Directory.GetFiles(h.StateDir, "*.tmp"));
    }

    [Fact]
    public void Concurrent_invocations_lose_no_update()
    {
        using var h = new CliHarness();
        const int n = 12;
        var procs = Enumerable.Range(0, n)
            .Select(i => h.Start("-A", "INPUT", "-s", $"10.0.0.{i + 1}", "-j", "ACCEPT"))
            .ToList();
        foreach (var p in procs)
        {
            Assert.True(p.WaitForExit(120_000), "a sharptables process hung");
            Assert.Equal(0, p.ExitCode);
        }
        var rules = h.Run("-S", "INPUT").Out.Split('\n').Count(l => l.StartsWith("-A INPUT -s 10.0.0.", StringComparison.Ordinal));
        Assert.Equal(n, rules);
    }

    [Fact]
    public void A_rejected_restore_changes_nothing_and_names_the_line()
    {
        using var h = new CliHarness();
        h.Run("-A", "INPUT", "-j", "ACCEPT");
        var before = File.ReadAllBytes(h.RulesFile);
        const string file = "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp --dport 22 -j ACCEPT\n-A INPUT -p tcp --dport 99999 -j ACCEPT\nCOMMIT\n";
        var (rc, _, err) = h.RunWithInput(file, "restore");
        Assert.Equal(2, rc);
        Assert.Equal("sharptables-restore v1.8.9 (nf_tables): invalid port/service `99999' specified\nError occurred at line: 4\nTry `sharptables-restore -h' or 'sharptables-restore --help' for more information.\n", err);
        Assert.Equal(before, File.ReadAllBytes(h.RulesFile));
    }

    [Fact]
    public void Restore_is_all_or_nothing_across_tables()
    {
        using var h = new CliHarness();
        // The second table fails: iptables-nft would keep the first; we keep neither (the whole file is one transaction).
        const string file = "*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j ACCEPT\nCOMMIT\n*filter\n-A NOSUCH -j ACCEPT\nCOMMIT\n";
        var (rc, _, err) = h.RunWithInput(file, "restore");
        Assert.Equal(1, rc);
        Assert.Equal("sharptables-restore: line 6 failed: No chain/target/match by that name.\n", err);
        Assert.False(File.Exists(h.RulesFile) && File.ReadAllText(h.RulesFile).Contains("*nat"));
    }

    [Fact]
    public void Save_then_restore_round_trips_with_counters()
    {
        using var h = new CliHarness();
        const string file = "*filter\n:INPUT DROP [10:20]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:LOGDROP - [0:0]\n[3:180] -A INPUT -i lo -j ACCEPT\n[1:60] -A INPUT -j LOGDROP\n[0:0] -A LOGDROP -j DROP\nCOMMIT\n";
        Assert.Equal(0, h.RunWithInput(file, "restore", "-c").Rc);
        var saved = h.Run("save", "-c").Out;
        var body = string.Join("", saved.Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#')).Select(l => l + "\n"));
        Assert.Equal(file, body);
    }

    [Fact]
    public void Restore_test_mode_checks_without_applying()
    {
        using var h = new CliHarness();
        Assert.Equal(0, h.RunWithInput("*filter\n-A INPUT -j DROP\nCOMMIT\n", "restore", "--test").Rc);
        Assert.Equal("-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n", h.Run("-S").Out);
    }
}
