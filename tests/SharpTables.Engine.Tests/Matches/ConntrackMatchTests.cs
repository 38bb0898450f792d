using SharpTables.Engine.Conntrack;
using static SharpTables.Engine.Tests.Matches.Outcome;

namespace SharpTables.Engine.Tests.Matches;

/// <summary>
/// state, conntrack and connmark on a packet whose conntrack information is set by hand
/// (the conntrack table itself is tested elsewhere). Lines marked "oracle" were run through
/// the real kernel (oracle-run --backend nft): a NULL-flags TCP packet is INVALID, a SYN to a
/// closed port NEW and not yet confirmed at INPUT.
/// </summary>
public class ConntrackMatchTests
{
    private const uint Client = 0xC6336402, Fw = 0xC6336401, Backend = 0xCB007102; // 198.51.100.2, .1, 203.0.113.2

    public enum Ct { Invalid, Untracked, New, Established, Related, Reply, RelatedReply }

    private static Packet Packet(Ct state, ConnStatus status = ConnStatus.None, uint ctmark = 0, uint timeout = 0,
        ConnTuple? reply = null)
    {
        var p = RuleUnderTest.Load("tcp sport=40000 dport=80");
        if (state == Ct.Invalid) return p;
        if (state == Ct.Untracked)
        {
            p.Untracked = true;
            return p;
        }
        p.Conn = new Connection
        {
            Original = new ConnTuple(4, 6, Client, Fw, 40000, 80),
            Reply = reply ?? new ConnTuple(4, 6, Fw, Client, 80, 40000),
            Status = status,
            Mark = ctmark,
            Timeout = timeout,
        };
        p.CtInfo = state switch
        {
            Ct.New => CtInfo.New,
            Ct.Established => CtInfo.Established,
            Ct.Related => CtInfo.Related,
            Ct.Reply => CtInfo.EstablishedReply,
            _ => CtInfo.RelatedReply,
        };
        return p;
    }

    private static Outcome Run(string rule, Packet p, EngineState? state = null) => RuleUnderTest.Matches(rule, state)(p);

    [Theory]
    [InlineData("-m state --state NEW", Ct.New, Match)]
    [InlineData("-m state --state NEW", Ct.Established, NoMatch)]
    [InlineData("-m state --state ESTABLISHED", Ct.Reply, Match)]
    [InlineData("-m state --state RELATED", Ct.RelatedReply, Match)]
    [InlineData("-m state --state NEW,ESTABLISHED", Ct.Related, NoMatch)]
    [InlineData("-m state --state INVALID", Ct.Invalid, Match)]
    [InlineData("-m state --state INVALID", Ct.Untracked, NoMatch)]
    [InlineData("-m state --state UNTRACKED", Ct.Untracked, Match)]
    [InlineData("-m state ! --state NEW", Ct.Invalid, Match)]
    [InlineData("-m state ! --state NEW", Ct.New, NoMatch)]
    [InlineData("-m conntrack --ctstate RELATED,ESTABLISHED", Ct.Reply, Match)]
    [InlineData("-m conntrack --ctstate INVALID", Ct.Invalid, Match)]
    [InlineData("-m conntrack ! --ctstate INVALID", Ct.Untracked, Match)]
    public void States(string rule, Ct state, Outcome expected) => Assert.Equal(expected, Run(rule, Packet(state)));

    [Theory]
    // oracle: "! --ctstatus ASSURED" alone did not match the INVALID NULL packet, with
    // "--ctstate INVALID" in front it did; "! --ctstate NEW" matched it
    [InlineData("-m conntrack ! --ctstatus ASSURED", Ct.Invalid, NoMatch)]
    [InlineData("-m conntrack --ctstate INVALID ! --ctstatus ASSURED", Ct.Invalid, Match)]
    [InlineData("-m conntrack ! --ctstate NEW", Ct.Invalid, Match)]
    [InlineData("-m conntrack ! --ctproto udp", Ct.Untracked, NoMatch)]
    [InlineData("-m conntrack --ctstate UNTRACKED ! --ctproto udp", Ct.Untracked, Match)]
    [InlineData("-m conntrack ! --ctorigsrc 10.0.0.1", Ct.Invalid, NoMatch)]
    [InlineData("-m conntrack --ctdir ORIGINAL", Ct.Invalid, NoMatch)]
    // oracle: the NEW SYN matched "! --ctstatus ASSURED", "! --ctstatus CONFIRMED" and --ctdir ORIGINAL
    [InlineData("-m conntrack ! --ctstatus ASSURED", Ct.New, Match)]
    [InlineData("-m conntrack ! --ctstatus CONFIRMED", Ct.New, Match)]
    [InlineData("-m conntrack --ctdir ORIGINAL", Ct.New, Match)]
    [InlineData("-m conntrack --ctdir REPLY", Ct.New, NoMatch)]
    [InlineData("-m conntrack --ctdir REPLY", Ct.Reply, Match)]
    [InlineData("-m conntrack --ctdir REPLY", Ct.RelatedReply, Match)]
    [InlineData("-m conntrack --ctdir ORIGINAL", Ct.Related, Match)]
    public void Without_an_entry_only_the_state_test_counts(string rule, Ct state, Outcome expected) =>
        Assert.Equal(expected, Run(rule, Packet(state)));

    [Theory]
    [InlineData("-m conntrack --ctstatus ASSURED", ConnStatus.Assured | ConnStatus.Confirmed, Match)]
    [InlineData("-m conntrack --ctstatus ASSURED", ConnStatus.Confirmed, NoMatch)]
    [InlineData("-m conntrack --ctstatus ASSURED,SEEN_REPLY", ConnStatus.SeenReply, Match)]
    [InlineData("-m conntrack ! --ctstatus ASSURED,SEEN_REPLY", ConnStatus.SeenReply, NoMatch)]
    [InlineData("-m conntrack --ctstatus NONE", ConnStatus.None, NoMatch)]
    [InlineData("-m conntrack ! --ctstatus NONE", ConnStatus.Assured, Match)]
    [InlineData("-m conntrack --ctstate DNAT", ConnStatus.DstNat, Match)]
    [InlineData("-m conntrack --ctstate SNAT", ConnStatus.DstNat, NoMatch)]
    [InlineData("-m conntrack --ctstate SNAT", ConnStatus.SrcNat | ConnStatus.SrcNatDone, Match)]
    [InlineData("-m conntrack ! --ctstate DNAT", ConnStatus.None, Match)]
    [InlineData("-m state --state ESTABLISHED", ConnStatus.DstNat, Match)]
    public void Status_and_nat_states(string rule, ConnStatus status, Outcome expected) =>
        Assert.Equal(expected, Run(rule, Packet(Ct.Established, status)));

    [Theory]
    [InlineData("-m conntrack --ctproto tcp", Match)]
    [InlineData("-m conntrack ! --ctproto tcp", NoMatch)]
    [InlineData("-m conntrack --ctorigsrc 198.51.100.0/24", Match)]
    [InlineData("-m conntrack ! --ctorigsrc 198.51.100.0/24", NoMatch)]
    [InlineData("-m conntrack --ctorigdst 198.51.100.1", Match)]
    // the reply tuple after DNAT: the backend answers
    [InlineData("-m conntrack --ctreplsrc 203.0.113.2", Match)]
    [InlineData("-m conntrack --ctrepldst 198.51.100.2", Match)]
    [InlineData("-m conntrack --ctreplsrc 198.51.100.1", NoMatch)]
    [InlineData("-m conntrack --ctorigsrcport 40000", Match)]
    [InlineData("-m conntrack --ctorigdstport 1:100", Match)]
    [InlineData("-m conntrack ! --ctorigdstport 1:100", NoMatch)]
    [InlineData("-m conntrack --ctreplsrcport 8080", Match)]
    [InlineData("-m conntrack --ctrepldstport 40000", Match)]
    [InlineData("-m conntrack --ctrepldstport 40001:", NoMatch)]
    [InlineData("-m conntrack --ctstate DNAT --ctorigdst 198.51.100.1 --ctreplsrc 203.0.113.2 --ctreplsrcport 8080", Match)]
    public void Tuples(string rule, Outcome expected)
    {
        var p = Packet(Ct.Established, ConnStatus.DstNat, reply: new ConnTuple(4, 6, Backend, Client, 8080, 40000));
        Assert.Equal(expected, Run(rule, p));
    }

    [Fact]
    public void Ports_of_an_icmp_entry_are_id_and_type_code()
    {
        var p = RuleUnderTest.Load("icmp type=8");
        p.Conn = new Connection
        {
            Original = new ConnTuple(4, 1, Client, Fw, 0x4f52, 8 << 8),
            Reply = new ConnTuple(4, 1, Fw, Client, 0x4f52, 0 << 8),
        };
        p.CtInfo = CtInfo.New;
        Assert.Equal(Match, Run("-m conntrack --ctorigsrcport 20306 --ctorigdstport 2048", p));
        Assert.Equal(NoMatch, Run("-m conntrack --ctorigdstport 8", p));
    }

    [Theory]
    // 120 s left -> 120; 0.996 s left -> 0 (whole seconds, rounded down); expired -> 0
    [InlineData(120 * 250, "-m conntrack --ctexpire 120", Match)]
    [InlineData(120 * 250 - 1, "-m conntrack --ctexpire 120", NoMatch)]
    [InlineData(120 * 250 - 1, "-m conntrack --ctexpire 119", Match)]
    [InlineData(249, "-m conntrack --ctexpire 0", Match)]
    [InlineData(-500, "-m conntrack --ctexpire 0", Match)]
    [InlineData(-500, "-m conntrack ! --ctexpire 1:", Match)]
    [InlineData(3600 * 250, "-m conntrack --ctexpire 60:1000", NoMatch)]
    public void Expire_counts_whole_seconds_left(int jiffiesLeft, string rule, Outcome expected)
    {
        var time = new ManualTime();
        var state = new EngineState(time);
        time.Advance(TimeSpan.FromSeconds(1000)); // far from the clock's start, 32-bit jiffies wrap meanwhile
        uint now = state.Clock.Jiffies32;
        var p = Packet(Ct.Established, timeout: unchecked(now + (uint)jiffiesLeft));
        p.Conn!.Status |= SharpTables.Engine.Conntrack.ConnStatus.Confirmed; // in the table: the timeout is absolute
        Assert.Equal(expected, Run(rule, p, state));
    }

    [Fact]
    public void An_unconfirmed_entry_has_no_time_left()
    {
        // Differential (live seed 31001, b0008 case 5, b0013 case 15): "--ctexpire 61:431968" in nat
        // PREROUTING never matched a connection's first packet. Before confirmation the timeout is
        // relative, and nf_ct_expires subtracts a clock that has run for hours: 0 seconds.
        var time = new ManualTime();
        var state = new EngineState(time);
        time.Advance(TimeSpan.FromSeconds(1000));
        var p = Packet(Ct.New, timeout: 120 * 250);
        Assert.Equal(NoMatch, Run("-m conntrack --ctexpire 61:431968", p, state));
        Assert.Equal(Match, Run("-m conntrack --ctexpire 0", p, state));
    }

    [Theory]
    [InlineData("-m connmark --mark 0x5", Ct.Established, 5u, Match)]
    [InlineData("-m connmark --mark 0x1/0xff", Ct.Established, 0x301u, Match)]
    [InlineData("-m connmark ! --mark 0x1/0xff", Ct.Established, 0x301u, NoMatch)]
    // oracle: "! --mark 1" matched the NEW SYN (ctmark 0) but not the INVALID packet
    [InlineData("-m connmark ! --mark 0x1", Ct.New, 0u, Match)]
    [InlineData("-m connmark ! --mark 0x1", Ct.Invalid, 0u, NoMatch)]
    [InlineData("-m connmark ! --mark 0x1", Ct.Untracked, 0u, NoMatch)]
    public void Connmark(string rule, Ct state, uint ctmark, Outcome expected) =>
        Assert.Equal(expected, Run(rule, Packet(state, ctmark: ctmark)));
}
