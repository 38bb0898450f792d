using SharpTables.Engine.Conntrack;
using SharpTables.Engine.Matches;
using SharpTables.Rules.Extensions.Connlimit;

namespace SharpTables.Engine.Tests.Stateful;

/// <summary>
/// connlimit over nf_conncount, replaying oracle runs (Linux 6.18 stable, iptables-nft 1.8.9).
/// The conntrack entries the kernel had are built by hand: confirmed once a packet of the
/// connection was accepted, ASSURED as conntrack sets it (TCP handshake done, UDP stream).
/// </summary>
public class ConnlimitTests
{
    private const string AboveOne = "-p udp -m connlimit --connlimit-above 1 --connlimit-mask 32 --connlimit-saddr";

    private static Connection Track(StatefulKit k, ConnStatus status = ConnStatus.None, TcpConntrackState state = TcpConntrackState.None)
    {
        var i = k.Packet.Info;
        var original = new ConnTuple(4, i.Protocol, i.Source, i.Destination, i.SourcePort, i.DestinationPort);
        var c = new Connection
        {
            Original = original,
            Reply = original.Invert(),
            Status = status,
            TcpState = state,
            Timeout = 120 * EngineClock.Hz, // relative until confirmed
        };
        k.Packet.Conn = c;
        return c;
    }

    /// <summary>The packet was accepted: conntrack confirms its entry into the table (where connlimit looks it up).</summary>
    private static void Confirm(StatefulKit k, Connection c, ConnStatus more = ConnStatus.None)
    {
        var p = new Packet { Conn = c, CtInfo = CtInfo.New };
        Assert.True(k.State.Conntrack.Confirm(p));
        c.Status |= more;
    }

    /// <summary>Loads a UDP packet from the client and attaches <paramref name="ct"/> (a new entry when null).</summary>
    private static Connection Udp(StatefulKit k, ushort sport, Connection? ct = null, string src = "198.51.100.2")
    {
        k.Udp(src, "198.51.100.1", sport, 9999);
        if (ct == null) return Track(k);
        k.Packet.Conn = ct;
        return ct;
    }

    [Fact]
    public void A_confirmed_connection_not_yet_counted_is_added()
    {
        // Oracle: flows 1001 and 1002 each sent a TTL 63 packet first (not seen by connlimit, so
        // their entries are confirmed), then TTL 64 packets through "--connlimit-above 1":
        // 1001 accepted, 1002 dropped, a new flow 1003 dropped, 1001 again dropped.
        var k = new StatefulKit();
        var m = k.Compile<ConnlimitMatch>(AboveOne);
        var verdicts = new List<bool>();
        var c1 = Udp(k, 1001);
        Confirm(k, c1);
        k.AdvanceJiffies(8);
        Udp(k, 1001, c1);
        verdicts.Add(k.Run(m));
        k.AdvanceJiffies(8);
        var c2 = Udp(k, 1002);
        Confirm(k, c2);
        k.AdvanceJiffies(8);
        Udp(k, 1002, c2);
        verdicts.Add(k.Run(m));
        k.AdvanceJiffies(8);
        Udp(k, 1003); // new, and dropped: never confirmed
        verdicts.Add(k.Run(m));
        k.AdvanceJiffies(8);
        Udp(k, 1001, c1);
        verdicts.Add(k.Run(m));
        Assert.Equal([false, true, true, true], verdicts);
    }

    [Fact]
    public void Packets_of_a_counted_connection_do_not_count_it_twice()
    {
        // Oracle: five packets of one UDP flow sent back to back (well within one jiffy) through
        // "--connlimit-above 1" were all accepted.
        var k = new StatefulKit();
        var m = k.Compile<ConnlimitMatch>(AboveOne);
        var c = Udp(k, 3001);
        Assert.False(k.Run(m));
        Confirm(k, c);
        for (int i = 0; i < 4; i++)
        {
            Udp(k, 3001, c);
            Assert.False(k.Run(m));
        }
        Assert.Equal(1u, ((CompiledConnlimitMatch)m).Data.CountFor(StatefulKit.V4("198.51.100.2")));
    }

    [Fact]
    public void An_assured_connection_is_not_added_but_an_unassured_one_is()
    {
        // Oracle (rules in OUTPUT, --connlimit-daddr): after a new flow 5000 was counted, flow 5001
        // (confirmed, replied) was dropped by "--connlimit-above 1" while unassured, and accepted
        // once conntrack had marked it ASSURED (a UDP stream older than 2 s).
        foreach (var (status, dropped) in new[] { (ConnStatus.Confirmed | ConnStatus.SeenReply, true), (ConnStatus.Confirmed | ConnStatus.SeenReply | ConnStatus.Assured, false) })
        {
            var k = new StatefulKit();
            var m = k.Compile<ConnlimitMatch>(AboveOne);
            var a = Udp(k, 5000);
            Assert.False(k.Run(m));
            Confirm(k, a); // accepted
            k.AdvanceJiffies(10);
            var b = Udp(k, 5001);
            Confirm(k, b, status);
            Assert.Equal(dropped, k.Run(m));
        }
    }

    [Fact]
    public void An_assured_connection_whose_list_empties_is_hot_dropped()
    {
        // Oracle (crafted TCP in OUTPUT, "--connlimit-above 5 --connlimit-daddr"): SYN, ACK and FIN
        // of an assured connection passed; its last ACK in TIME_WAIT, 100 ms later, was dropped
        // without any rule counting it, and again 100 ms after that; a new SYN still passed.
        var k = new StatefulKit();
        var m = k.Compile<ConnlimitMatch>("-p tcp -m connlimit --connlimit-above 5 --connlimit-mask 32 --connlimit-daddr");
        k.Tcp("198.51.100.1", "198.51.100.2", 6000, 7777, flags: 0x02);
        var ct = Track(k, ConnStatus.None, TcpConntrackState.SynSent);
        Assert.False(k.Run(m, out bool hotdrop));
        Assert.False(hotdrop);
        Confirm(k, ct, ConnStatus.SeenReply | ConnStatus.Assured);
        ct.TcpState = TcpConntrackState.Established;
        k.AdvanceJiffies(1);
        k.Tcp("198.51.100.1", "198.51.100.2", 6000, 7777, flags: 0x10);
        k.Packet.Conn = ct;
        Assert.False(k.Run(m, out hotdrop));
        Assert.False(hotdrop);

        ct.TcpState = TcpConntrackState.TimeWait;
        for (int i = 0; i < 2; i++)
        {
            k.AdvanceJiffies(25);
            k.Packet.Conn = ct;
            Assert.False(k.Run(m, out hotdrop));
            Assert.True(hotdrop);
        }

        k.Tcp("198.51.100.1", "198.51.100.2", 6001, 7777, flags: 0x02);
        Track(k, ConnStatus.None, TcpConntrackState.SynSent);
        Assert.False(k.Run(m, out hotdrop));
        Assert.False(hotdrop);
    }

    [Fact]
    public void Closed_and_vanished_connections_stop_counting()
    {
        var k = new StatefulKit();
        var m = (CompiledConnlimitMatch)k.Compile<ConnlimitMatch>("-p tcp --syn -m connlimit --connlimit-upto 2");
        var conns = new List<Connection>();
        for (ushort port = 1; port <= 3; port++)
        {
            k.AdvanceJiffies(1);
            k.Tcp("198.51.100.2", "198.51.100.1", port, 22);
            conns.Add(Track(k, ConnStatus.None, TcpConntrackState.SynSent));
            bool upTo = k.Run(m);
            Assert.Equal(port <= 2, upTo); // --connlimit-upto 2: matches while at most 2
            Confirm(k, conns[^1], ConnStatus.Assured);
            conns[^1].TcpState = TcpConntrackState.Established;
        }
        conns[0].TcpState = TcpConntrackState.TimeWait; // already_closed
        k.State.Conntrack.Kill(conns[1]); // removed from the conntrack table
        k.AdvanceJiffies(1);
        k.Tcp("198.51.100.2", "198.51.100.1", 4, 22);
        Track(k, ConnStatus.None, TcpConntrackState.SynSent);
        Assert.True(k.Run(m));
        Assert.Equal(2u, m.Data.CountFor(StatefulKit.V4("198.51.100.2"))); // conns[2] and the new one
    }

    [Fact]
    public void A_listed_connection_is_looked_up_by_its_tuple_not_by_the_entry_that_made_it()
    {
        // Differential corpus (b0000 case 7): a dropped SYN's entry is never confirmed, and the engine
        // recycles such entries for later connections. nf_conncount looks listed tuples up in the
        // conntrack table, so the dropped SYN stops counting even when its entry object lives on
        // confirmed for another flow.
        var k = new StatefulKit();
        var m = k.Compile<ConnlimitMatch>(AboveOne);
        var dropped = Udp(k, 7001);
        Assert.False(k.Run(m)); // counted, then dropped: never confirmed
        k.AdvanceJiffies(8);
        k.Udp("198.51.100.9", "198.51.100.1", 7002, 9999); // another source, another key
        var orig = new ConnTuple(4, k.Packet.Info.Protocol, k.Packet.Info.Source, k.Packet.Info.Destination, 7002, 9999);
        dropped.Original = orig; // the pool hands the same entry to this flow, which is accepted
        dropped.Reply = orig.Invert();
        Confirm(k, dropped);
        k.AdvanceJiffies(8);
        Udp(k, 7003);
        Assert.False(k.Run(m)); // only this connection counts for 198.51.100.2
    }

    [Fact]
    public void Expired_entries_are_gone_for_connlimit_too()
    {
        var k = new StatefulKit();
        var m = (CompiledConnlimitMatch)k.Compile<ConnlimitMatch>(AboveOne);
        var a = Udp(k, 1);
        k.Run(m);
        Confirm(k, a);
        a.Timeout = (uint)k.Jiffies + 30 * EngineClock.Hz;
        k.AdvanceJiffies(30 * EngineClock.Hz);
        Udp(k, 2);
        Assert.False(k.Run(m)); // a timed out: nf_conntrack_find_get skips expired entries
        Assert.Equal(1u, m.Data.CountFor(StatefulKit.V4("198.51.100.2")));
    }

    [Fact]
    public void The_mask_groups_sources_and_the_zone_separates_them()
    {
        var k = new StatefulKit();
        var m = k.Compile<ConnlimitMatch>("-p udp -m connlimit --connlimit-above 1 --connlimit-mask 24");
        bool Count(string src, ushort zone = 0)
        {
            k.AdvanceJiffies(1);
            var c = Udp(k, 1, src: src);
            c.Zone = zone;
            bool matched = k.Run(m);
            Confirm(k, c); // accepted: conntrack confirms it
            return matched;
        }
        Assert.False(Count("198.51.100.2"));
        Assert.True(Count("198.51.100.77")); // same /24: two connections
        Assert.False(Count("198.51.101.2"));
        Assert.False(Count("198.51.100.3", zone: 7)); // another zone: its own count
    }

    [Fact]
    public void A_packet_without_a_conntrack_entry_counts_once_by_its_tuple()
    {
        var k = new StatefulKit();
        var m = (CompiledConnlimitMatch)k.Compile<ConnlimitMatch>(AboveOne);
        k.Udp("198.51.100.2", "198.51.100.1", 1, 9999); // untracked: Conn stays null
        Assert.False(k.Run(m));
        k.AdvanceJiffies(1);
        k.Udp("198.51.100.2", "198.51.100.1", 2, 9999);
        Assert.False(k.Run(m)); // the first tuple is not in the conntrack table: evicted, then this one added
        Assert.Equal(1u, m.Data.CountFor(StatefulKit.V4("198.51.100.2")));
        k.Packet.Buffer[6] = 0x00;
        k.Packet.Buffer[7] = 0x10; // a non-first fragment has no tuple: hot-dropped
        k.Packet.Reparse();
        Assert.False(k.Run(m, out bool hotdrop));
        Assert.True(hotdrop);
    }

    [Fact]
    public void Before_conntrack_a_packet_is_counted_by_the_entry_its_tuple_finds()
    {
        // Differential corpus (seed31005-b0234 case 13, raw PREROUTING, "--connlimit-upto 1
        // --connlimit-saddr"): packets of a forwarded connection reach the rule before conntrack, so
        // nf_conncount looks their tuple up itself. Through the close the rule matched; a data
        // packet after the last ACK found the entry in TIME_WAIT, which emptied the list, and the
        // kernel dropped it without counting the rule.
        var k = new StatefulKit();
        var m = k.Compile<ConnlimitMatch>("-m connlimit --connlimit-upto 1 --connlimit-mask 32 --connlimit-saddr");
        void Raw(byte flags) => k.Tcp("198.51.100.33", "203.0.113.33", 23903, 22, flags: flags); // Conn stays null
        Raw(0x02);
        Assert.True(k.Run(m));
        var ct = Track(k, ConnStatus.None, TcpConntrackState.SynSent);
        Confirm(k, ct, ConnStatus.SeenReply | ConnStatus.Assured);
        ct.TcpState = TcpConntrackState.LastAck;
        k.AdvanceJiffies(17);
        Raw(0x10);
        Assert.True(k.Run(m, out bool hotdrop)); // the listed connection is still open: 1
        Assert.False(hotdrop);

        ct.TcpState = TcpConntrackState.TimeWait;
        k.AdvanceJiffies(16);
        Raw(0x18);
        Assert.False(k.Run(m, out hotdrop));
        Assert.True(hotdrop);
    }

    [Fact]
    public void Counting_known_connections_does_not_allocate()
    {
        var k = new StatefulKit();
        var m = k.Compile<ConnlimitMatch>("-p udp -m connlimit --connlimit-above 100 --connlimit-mask 24");
        var conns = new Connection[16];
        for (int i = 0; i < conns.Length; i++)
        {
            conns[i] = Udp(k, (ushort)(i + 1), src: $"198.51.100.{i + 1}");
            k.Run(m);
            Confirm(k, conns[i]);
        }
        void Burst()
        {
            for (int i = 0; i < 64; i++)
            {
                k.Packet.Conn = conns[i % conns.Length];
                k.Run(m);
                k.AdvanceJiffies(1);
            }
        }
        Burst();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Burst();
        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }
}
