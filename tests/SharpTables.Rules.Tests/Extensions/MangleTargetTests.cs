using System.Text.RegularExpressions;
using SharpTables.Rules.Commands;
using SharpTables.Rules.Model;

namespace SharpTables.Rules.Tests.Extensions;

/// <summary>
/// The mangle-table targets TCPMSS, DSCP, TOS and TTL against the real iptables 1.8.9 (nf_tables).
/// tests/fixtures/targets/mangle.out is the oracle-canon transcript of mangle.cmds: here every
/// command's standard output (the -L, -L -n, -L -v -x and -S listings) must be what iptables
/// printed, character for character; <see cref="TargetTranscriptTests"/> checks exit status and
/// error text of the same file. The IPv6 cases were recorded with ip6tables the same way.
/// </summary>
public partial class MangleTargetTests
{
    [GeneratedRegex(@"^\[\d+\] line \d+ rc=(\d+) \$ (.*)$")]
    private static partial Regex StepLine();

    [Fact]
    public void Listings_are_those_of_iptables()
    {
        var path = Path.Combine(TestPaths.Fixtures, "targets", "mangle.out");
        var steps = new List<(string Command, List<string> Stdout)>();
        foreach (var line in File.ReadLines(path))
        {
            if (line.StartsWith("--- iptables-save", StringComparison.Ordinal)) break;
            var m = StepLine().Match(line);
            if (m.Success) steps.Add((m.Groups[2].Value, []));
            else if (line.StartsWith("    | ", StringComparison.Ordinal)) steps[^1].Stdout.Add(line[6..]);
            else if (line == "    |") steps[^1].Stdout.Add("");
        }
        Assert.Contains(steps, s => s.Stdout.Count > 0);

        var exec = new CommandExecutor(new Ruleset());
        foreach (var (command, stdout) in steps)
        {
            string output;
            try
            {
                output = exec.Run(TestPaths.ShellSplit(command).Skip(1).ToList());
            }
            catch (XtablesException)
            {
                output = "";
            }
            Assert.Equal(string.Join('\n', stdout), output.TrimEnd('\n'));
        }
    }

    public static TheoryData<string, int, string> Ipv6Cases { get; } = new()
    {
        { "-t mangle -A OUTPUT -p tcp -j TCPMSS --set-mss 65496", 2,
            "sharptables v1.8.9 (nf_tables): TCPMSS: bad value for option \"--set-mss\", or out of range (0-65495).\n\nTry `sharptables -h' or 'sharptables --help' for more information." },
        { "-t mangle -A OUTPUT -p tcp -j TCPMSS --set-mss 65495", 0, "" },
        { "-t mangle -A OUTPUT -p tcp -j TCPMSS --clamp-mss-to-pmtu", 0, "" },
        { "-t mangle -A INPUT -p tcp -j TCPMSS --clamp-mss-to-pmtu", 4,
            "sharptables v1.8.9 (nf_tables):  RULE_APPEND failed (Invalid argument): rule in chain INPUT" },
        { "-t mangle -A OUTPUT -j TOS --set-tos 3", 0, "" },
        { "-t mangle -A OUTPUT -j DSCP --set-dscp 3", 0, "" },
    };

    [Theory]
    [MemberData(nameof(Ipv6Cases))]
    public void Ipv6_rules_are_checked_like_ip6tables(string rule, int exit, string stderr)
    {
        var exec = new CommandExecutor(new Ruleset(Family.IPv6));
        int ourExit = 0;
        string ourErr = "";
        try
        {
            exec.Run(TestPaths.ShellSplit(rule));
        }
        catch (XtablesException e)
        {
            ourExit = (int)e.Exit;
            ourErr = e.Render("sharptables");
        }
        Assert.Equal(exit, ourExit);
        Assert.Equal(stderr, ourErr);
    }

    [Fact]
    public void Ipv6_listing_is_that_of_ip6tables()
    {
        var exec = new CommandExecutor(new Ruleset(Family.IPv6));
        exec.Run(["-t", "mangle", "-A", "INPUT", "-j", "TOS", "--set-tos", "Minimize-Cost"]);
        exec.Run(["-t", "mangle", "-A", "OUTPUT", "-p", "tcp", "-j", "TCPMSS", "--set-mss", "65495"]);
        exec.Run(["-t", "mangle", "-A", "OUTPUT", "-j", "DSCP", "--set-dscp", "3"]);
        Assert.Equal(
            "TOS        all  --  anywhere             anywhere              TOS setMinimize-Cost",
            exec.Run(["-t", "mangle", "-L", "INPUT"]).Split('\n')[2]);
        // (The address columns of an IPv6 listing are the core's business; only the rest is compared.)
        var input = exec.Run(["-t", "mangle", "-L", "INPUT", "-n"]).Split('\n')[2];
        Assert.StartsWith("TOS        0    --  ", input);
        Assert.EndsWith("  TOS set 0x02/0x3f", input);
        var output = exec.Run(["-t", "mangle", "-L", "OUTPUT", "-n"]).Split('\n');
        Assert.StartsWith("TCPMSS     6    --  ", output[2]);
        Assert.EndsWith("  TCPMSS set 65495", output[2]);
        Assert.StartsWith("DSCP       0    --  ", output[3]);
        Assert.EndsWith("  DSCP set 0x03", output[3]);
        Assert.Equal(
            "-A INPUT -j TOS --set-tos 0x02/0x3f\n-A OUTPUT -p tcp -j TCPMSS --set-mss 65495\n-A OUTPUT -j DSCP --set-dscp 0x03",
            string.Join('\n', exec.Run(["-t", "mangle", "-S"]).Split('\n').Where(l => l.StartsWith("-A ", StringComparison.Ordinal))));
    }

    /// <summary>
    /// iptables-restore (oracle-canon with a save file): the kernel runs each target's checkentry
    /// when the rule is added, with the hook of the built-in chain it is added to, so the same
    /// refusals as with -A happen at COMMIT and name the rule's line.
    /// </summary>
    public static TheoryData<string, int, string> RestoreCases { get; } = new()
    {
        { "*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p tcp -j TCPMSS --clamp-mss-to-pmtu\nCOMMIT\n", 4,
            "sharptables-restore v1.8.9 (nf_tables): \nline 3: RULE_APPEND failed (Invalid argument): rule in chain PREROUTING" },
        { "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j TTL --ttl-set 3\nCOMMIT\n", 4,
            "sharptables-restore v1.8.9 (nf_tables): \nline 3: RULE_APPEND failed (Invalid argument): rule in chain INPUT" },
        { "*mangle\n:PREROUTING ACCEPT [0:0]\n:X - [0:0]\n-A PREROUTING -j X\n-A X -p tcp -j TCPMSS --clamp-mss-to-pmtu\nCOMMIT\n", 0, "" },
    };

    [Theory]
    [MemberData(nameof(RestoreCases))]
    public void Restore_refuses_like_iptables_restore(string input, int exit, string stderr)
    {
        int ourExit = 0;
        string ourErr = "";
        try
        {
            Restore.Apply(new Ruleset(), input, new RestoreOptions());
        }
        catch (XtablesException e)
        {
            ourExit = (int)e.Exit;
            ourErr = e.Render("sharptables-restore");
        }
        Assert.Equal(exit, ourExit);
        Assert.Equal(stderr, ourErr);
    }
}
