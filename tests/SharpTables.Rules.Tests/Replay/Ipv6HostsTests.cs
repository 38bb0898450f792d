using SharpTables.Rules.Commands;
using SharpTables.Rules.Model;
using SharpTables.Rules.Parsing;

namespace SharpTables.Rules.Tests.Replay;

/// <summary>
/// Name resolution of ip6tables through an /etc/hosts with IPv6 entries, which the oracle's machine
/// lacks: tests/fixtures/ipv6/hosts.sh ran the real ip6tables 1.8.9 (nf_tables) with hosts6
/// bind-mounted over /etc/hosts and recorded hosts.out.txt (combined stdout and stderr, then rc).
/// SharpTables reads the same hosts6 and must print the same, command by command.
/// </summary>
public class Ipv6HostsTests
{
    [Fact]
    public void Names_resolve_and_print_like_ip6tables_with_the_same_hosts_file()
    {
        var dir = Path.Combine(TestPaths.Fixtures, "ipv6");
        using var _ = HostsFile.Use(HostsFile.Load(Path.Combine(dir, "hosts6")));
        var exec = new CommandExecutor(new Ruleset(Family.IPv6));
        var lines = File.ReadAllLines(Path.Combine(dir, "hosts.out.txt"));
        int i = 0, commands = 0;
        while (i < lines.Length)
        {
            Assert.StartsWith("$ ip6tables ", lines[i]);
            var args = lines[i]["$ ip6tables ".Length..].Split(' ');
            var expected = new List<string>();
            for (i++; !lines[i].StartsWith("rc=", StringComparison.Ordinal); i++) expected.Add(lines[i]);
            int rc = int.Parse(lines[i++]["rc=".Length..]);
            string output;
            int ours = 0;
            try
            {
                output = exec.Run(args);
            }
            catch (XtablesException e)
            {
                ours = (int)e.Exit;
                output = e.Render("ip6tables") + "\n";
            }
            Assert.Equal((rc, string.Join("", expected.Select(l => l + "\n"))), (ours, output));
            commands++;
        }
        Assert.Equal(12, commands);
    }
}
