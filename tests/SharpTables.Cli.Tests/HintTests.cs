namespace SharpTables.Cli.Tests;

/// <summary>Tutorial typos get one line of hint after iptables' own message, only for a person at a terminal.</summary>
public class HintTests
{
    [Theory]
    [InlineData(new[] { "-A", "INPUT", "-p", "tcp", "\u2013dport", "22", "-j", "ACCEPT" }, "--dport")]
    [InlineData(new[] { "-A", "INPUT", "-m", "state", "--state", "NEW,", "ESTABLISHED", "-j", "ACCEPT" }, "NEW,ESTABLISHED")]
    [InlineData(new[] { "-A", "INPUT", "-s", "!", "10.0.0.1", "-j", "DROP" }, "! -s 10.0.0.1")]
    public void Typos_get_a_hint_that_names_the_fix(string[] argv, string fix)
    {
        var hint = Hints.Find(argv);
        Assert.NotNull(hint);
        Assert.Contains(fix, hint);
    }

    [Fact]
    public void A_correct_command_gets_no_hint() =>
        Assert.Null(Hints.Find(["-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT"]));

    [Fact]
    public void Scripts_see_exactly_iptables_text()
    {
        using var h = new CliHarness();
        var p = h.Start("-A", "INPUT", "-s", "!", "10.0.0.1", "-j", "DROP");
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.Equal(2, p.ExitCode);
        Assert.Equal("Bad argument `10.0.0.1'\nTry `sharptables -h' or 'sharptables --help' for more information.\n", err);
    }
}
