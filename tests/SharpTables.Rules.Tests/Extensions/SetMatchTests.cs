using System.Text;
using SharpTables.Rules.Commands;
using SharpTables.Rules.Extensions.Set;
using SharpTables.Rules.Model;

namespace SharpTables.Rules.Tests.Extensions;

/// <summary>
/// The set match with sets present. The oracle cannot create ipsets, so these expectations come
/// from libxt_set.c (revision 4: set_parse_v4, set_save_v4/set_print_v4, get_set_byname).
/// The registry gets two sets whose names the ground-truth cases do not use ("foo" stays unknown).
/// </summary>
public class SetMatchTests
{
    static SetMatchTests()
    {
        IpSetRegistry.Current = new IpSetRegistry.Fixed(
        [
            new IpSetInfo(0, "blocklist", Family.IPv4),
            new IpSetInfo(1, "v6only", Family.IPv6),
            new IpSetInfo(2, "anyfamily", null),
        ]);
    }

    private static (string Save, string List) Run(string rule)
    {
        var ruleset = new Ruleset();
        var exec = new CommandExecutor(ruleset);
        exec.Run(["-A", "INPUT", .. TestPaths.ShellSplit(rule)]);
        var save = exec.Run(["-S", "INPUT"]).Split('\n').Single(l => l.StartsWith("-A ", StringComparison.Ordinal));
        var sb = new StringBuilder();
        foreach (var m in ruleset.Find("filter")!.Find("INPUT")!.Rules.Single().Rule.Matches) m.Print(sb, false);
        return (save, sb.ToString());
    }

    private static string Error(string rule)
    {
        var exec = new CommandExecutor(new Ruleset());
        var e = Assert.Throws<XtablesException>(() => exec.Run(["-A", "INPUT", .. TestPaths.ShellSplit(rule)]));
        return e.Message;
    }

    [Fact]
    public void A_known_set_is_matched_by_name_and_directions()
    {
        var (save, list) = Run("-m set --match-set blocklist src,dst");
        Assert.Equal("-A INPUT -m set --match-set blocklist src,dst", save);
        Assert.Equal(" match-set blocklist src,dst", list);
    }

    [Fact]
    public void Flags_and_counter_conditions_are_kept()
    {
        var (save, list) = Run("-m set ! --match-set anyfamily dst --return-nomatch ! --update-counters ! --update-subcounters --packets-gt 5 ! --bytes-eq 100");
        Assert.Equal("-A INPUT -m set ! --match-set anyfamily dst --return-nomatch ! --update-counters ! --update-subcounters --packets-gt 5 ! --bytes-eq 100", save);
        Assert.Equal(" ! match-set anyfamily dst return-nomatch ! update-counters ! update-subcounters packets-gt 5 ! bytes-eq 100", list);
    }

    [Fact]
    public void Sets_of_the_other_family_and_bad_directions_are_refused()
    {
        Assert.Equal("The protocol family of set v6only is IPv6, which is not applicable.\n", Error("-m set --match-set v6only src"));
        Assert.Equal("Can't be more src/dst options than 6.", Error("-m set --match-set blocklist src,dst,src,dst,src,dst,src"));
        Assert.Equal("You must spefify (the comma separated list of) 'src' or 'dst'.", Error("-m set --match-set blocklist foo"));
        Assert.Equal("--match-set can be specified only once", Error("-m set --match-set blocklist src --match-set blocklist dst"));
        Assert.Equal("Set foo doesn't exist.\n", Error("-m set --match-set foo src"));
    }
}
