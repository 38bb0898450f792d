using SharpTables.Engine.Matches;
using SharpTables.Engine.State;
using SharpTables.Rules.Extensions.Recent;
using SharpTables.Rules.Model;

namespace SharpTables.Engine.Tests.Stateful;

/// <summary>
/// xt_recent against the real kernel (Linux 6.18, iptables-nft 1.8.9, oracle-run). The kernel
/// lists a table in random hash order, so listings are compared as sets of lines.
/// </summary>
public class RecentTests
{
    private const string SetRule = "-p tcp -m tcp --dport 22 -m recent --set --name SSH --mask 255.255.255.255 --rsource";
    private const string UpdateRule = "-p tcp -m tcp --dport 22 -m recent --update --seconds 60 --hitcount 4 --rttl --name SSH --mask 255.255.255.255 --rsource -j DROP";

    private static string[] Lines(string listing) => listing.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public void Webhost_ssh_scenario_drops_the_fourth_new_syn_and_lists_like_the_kernel()
    {
        // examples/webhost.result.nft.json: rules 5 (--set) and 6 (--update --hitcount 4 --rttl) of
        // webhost.rules see NEW SYNs from 198.51.100.2 at these jiffies, then one from .3.
        var k = new StatefulKit(bootJiffies: 4295238164);
        var set = k.Compile<RecentMatch>(SetRule);
        var update = k.Compile<RecentMatch>(UpdateRule);

        var dropped = new List<bool>();
        foreach (ulong step in new ulong[] { 0, 26, 9, 9 })
        {
            k.AdvanceJiffies(step);
            k.Tcp("198.51.100.2", "198.51.100.1", 40000, 22);
            Assert.True(k.Run(set)); // --set always matches
            dropped.Add(k.Run(update));
        }
        Assert.Equal([false, false, false, true], dropped);

        k.AdvanceJiffies(10);
        k.Tcp("198.51.100.3", "198.51.100.1", 40001, 22);
        Assert.True(k.Run(set));
        Assert.False(k.Run(update));

        Assert.Equal(Lines(
            "src=198.51.100.3 ttl: 64 last_seen: 4295238218 oldest_pkt: 1 4295238218\n" +
            "src=198.51.100.2 ttl: 64 last_seen: 4295238208 oldest_pkt: 5 4295238164, 4295238190, 4295238199, 4295238208, 4295238208\n"),
            Lines(k.State.Recent.Read("SSH")));
    }

    [Fact]
    public void A_set_rule_stores_the_new_ttl_so_rttl_does_not_save_a_fourth_syn_with_another_ttl()
    {
        // examples/recent-rttl.scenario.jsonl on the oracle: SYNs #1-3 TTL 64 accepted, #4 TTL 63
        // dropped by rule 6; the list then reads "src=198.51.100.2 ttl: 63 ... oldest_pkt: 5" with
        // stamps 4295519012, 4295519037, 4295519051, 4295519061, 4295519061.
        var k = new StatefulKit(bootJiffies: 4295519012);
        var set = k.Compile<RecentMatch>(SetRule);
        var update = k.Compile<RecentMatch>(UpdateRule);
        var dropped = new List<bool>();
        foreach (var (step, ttl) in new (ulong, byte)[] { (0, 64), (25, 64), (14, 64), (10, 63) })
        {
            k.AdvanceJiffies(step);
            k.Tcp("198.51.100.2", "198.51.100.1", 40000, 22, ttl: ttl);
            k.Run(set);
            dropped.Add(k.Run(update));
        }
        Assert.Equal([false, false, false, true], dropped);
        Assert.Equal("src=198.51.100.2 ttl: 63 last_seen: 4295519061 oldest_pkt: 5 4295519012, 4295519037, 4295519051, 4295519061, 4295519061\n",
            k.State.Recent.Read("SSH"));
    }

    [Fact]
    public void Without_hitcount_a_list_keeps_32_timestamps_in_a_ring()
    {
        // Oracle: 40 packets through "-m recent --set --name A" leave 32 stamps and oldest_pkt: 8
        // (ip_pkt_list_tot is 0 by default, so the ring is sized 32, not the old 20).
        var k = new StatefulKit();
        var set = k.Compile<RecentMatch>("-p udp -m recent --set --name A");
        ulong first = k.Jiffies;
        for (int i = 0; i < 40; i++)
        {
            k.Udp("198.51.100.2", "198.51.100.1", 5555, 1000);
            k.Run(set);
            k.AdvanceJiffies(1);
        }
        var fields = k.State.Recent.Read("A").TrimEnd('\n').Split(' ');
        Assert.Equal("oldest_pkt:", fields[5]);
        Assert.Equal("8", fields[6]);
        var stamps = fields[7..].Select(s => ulong.Parse(s.TrimEnd(','))).ToArray();
        Assert.Equal(32, stamps.Length);
        // Slots 0-7 hold packets 33-40, slots 8-31 packets 9-32; last_seen is slot 7.
        Assert.Equal(first + 32, stamps[0]);
        Assert.Equal(first + 39, stamps[7]);
        Assert.Equal(first + 8, stamps[8]);
        Assert.Equal((first + 39).ToString(), fields[4]);
    }

    [Fact]
    public void A_rule_with_a_larger_hitcount_enlarges_the_list()
    {
        // Oracle: "--set --name C" then "--rcheck --hitcount 40 --name C"; 50 packets through both
        // leave 50 stamps (oldest_pkt: 50) and the rcheck rule matched 11 times (packets 40-50).
        var k = new StatefulKit();
        var set = k.Compile<RecentMatch>("-p udp -m recent --set --name C");
        var check = k.Compile<RecentMatch>("-p udp -m recent --rcheck --hitcount 40 --name C");
        Assert.Equal(64, k.State.Recent.Find("C")!.StampsPerEntry);
        int matched = 0;
        for (int i = 0; i < 50; i++)
        {
            k.Udp("198.51.100.2", "198.51.100.1", 5555, 1001);
            k.Run(set);
            if (k.Run(check)) matched++;
        }
        Assert.Equal(11, matched);
        Assert.Contains(" oldest_pkt: 50 ", k.State.Recent.Read("C"));
    }

    [Fact]
    public void Growing_an_existing_list_empties_it()
    {
        var k = new StatefulKit();
        var set = k.Compile<RecentMatch>("-p udp -m recent --set --name G");
        k.Udp("198.51.100.2", "198.51.100.1", 1, 2);
        k.Run(set);
        Assert.Equal(1, k.State.Recent.Find("G")!.Count);
        k.Compile<RecentMatch>("-p udp -m recent --rcheck --hitcount 100 --name G"); // recent_mt_check flushes
        Assert.Equal(0, k.State.Recent.Find("G")!.Count);
        Assert.Equal(128, k.State.Recent.Find("G")!.StampsPerEntry);
    }

    [Fact]
    public void The_mask_of_the_rule_that_created_the_list_applies_to_all_its_rules()
    {
        // Oracle: "--set --name M --mask 255.255.255.0" stores 198.51.100.7 as 198.51.100.0, and
        // "--rcheck --name M --mask 255.255.255.255" then matches a packet from 198.51.100.9.
        var k = new StatefulKit();
        var set = k.Compile<RecentMatch>("-p udp -m recent --set --name M --mask 255.255.255.0");
        var check = k.Compile<RecentMatch>("-p udp -m recent --rcheck --name M --mask 255.255.255.255");
        k.Udp("198.51.100.7", "198.51.100.1", 1, 1002);
        k.Run(set);
        Assert.StartsWith("src=198.51.100.0 ttl: 64 ", k.State.Recent.Read("M"));
        k.Udp("198.51.100.9", "198.51.100.1", 1, 1003);
        Assert.True(k.Run(check));
    }

    [Fact]
    public void Ipv6_entries_print_the_full_address_and_the_hop_limit()
    {
        // Oracle (ip6tables-nft): "src=2001:0db8:0100:0000:0000:0000:0000:0002 ttl: 17 ...".
        var k = new StatefulKit();
        var set = k.Compile<RecentMatch>("-p udp -m recent --set --name V6", Family.IPv6);
        k.Udp6("2001:db8:100::2", "2001:db8:100::1", 40000, 1000, hopLimit: 17);
        Assert.True(k.Run(set));
        ulong j = k.Jiffies;
        Assert.Equal($"src=2001:0db8:0100:0000:0000:0000:0000:0002 ttl: 17 last_seen: {j} oldest_pkt: 1 {j}\n", k.State.Recent.Read("V6"));
    }

    [Fact]
    public void Seconds_counts_only_hits_within_the_window_and_reap_drops_stale_entries()
    {
        var k = new StatefulKit();
        var set = k.Compile<RecentMatch>("-p udp -m recent --set --name W");
        var check = k.Compile<RecentMatch>("-p udp -m recent --rcheck --seconds 10 --hitcount 2 --name W");
        var reap = k.Compile<RecentMatch>("-p udp -m recent --rcheck --seconds 10 --reap --name W");

        k.Udp("198.51.100.2", "198.51.100.1", 1, 1);
        k.Run(set);
        k.AdvanceJiffies(5 * 250);
        k.Run(set);
        Assert.True(k.Run(check)); // both stamps are within 10 s
        k.AdvanceJiffies(6 * 250);
        Assert.False(k.Run(check)); // the first is 11 s old: time_after(now - 10 s, stamp)

        k.Udp("198.51.100.3", "198.51.100.1", 1, 1);
        k.Run(set); // .3 is now the most recent, .2 the least recent entry
        k.AdvanceJiffies(10 * 250);
        k.Run(reap); // only the least recently seen entry is looked at: .2, whose newest stamp is 15 s old
        Assert.Equal(["src=198.51.100.3"], Lines(k.State.Recent.Read("W")).Select(l => l.Split(' ')[0]));
    }

    [Fact]
    public void Update_adds_a_stamp_only_when_it_matches_and_remove_deletes_the_entry()
    {
        var k = new StatefulKit();
        var set = k.Compile<RecentMatch>("-p udp -m recent --set --name U");
        var update = k.Compile<RecentMatch>("-p udp -m recent --update --hitcount 3 --name U");
        var remove = k.Compile<RecentMatch>("-p udp -m recent --remove --name U");
        k.Udp("198.51.100.2", "198.51.100.1", 1, 1);
        Assert.False(k.Run(update)); // no entry: no match, nothing created
        Assert.False(k.Run(remove));
        k.Run(set);
        Assert.False(k.Run(update)); // 1 hit < 3: no stamp added
        Assert.Contains("oldest_pkt: 1 ", k.State.Recent.Read("U"));
        k.Run(set);
        k.Run(set);
        Assert.True(k.Run(update));
        Assert.Contains("oldest_pkt: 4 ", k.State.Recent.Read("U"));
        Assert.True(k.Run(remove));
        Assert.Equal("", k.State.Recent.Read("U"));
    }

    [Fact]
    public void Rdest_uses_the_destination_and_a_full_list_evicts_the_least_recently_seen()
    {
        var k = new StatefulKit();
        var set = k.Compile<RecentMatch>("-p udp -m recent --set --name D --rdest");
        for (int i = 1; i <= 101; i++)
        {
            k.Udp("198.51.100.2", $"10.0.{i / 256}.{i % 256}", 1, 1);
            k.Run(set);
        }
        var lines = Lines(k.State.Recent.Read("D"));
        Assert.Equal(100, lines.Length); // ip_list_tot
        Assert.DoesNotContain(lines, l => l.StartsWith("src=10.0.0.1 "));
        Assert.Contains(lines, l => l.StartsWith("src=10.0.0.101 "));
    }

    [Fact]
    public void Forwarded_packets_are_seen_with_the_ttl_before_forwarding()
    {
        var k = new StatefulKit();
        var set = k.Compile<RecentMatch>("-p udp -m recent --set --name F");
        k.Udp("198.51.100.2", "203.0.113.2", 1, 1, ttl: 63);
        k.Packet.Out = new NetInterface("eth1", 3);
        k.Run(set);
        Assert.StartsWith("src=198.51.100.2 ttl: 64 ", k.State.Recent.Read("F"));
    }

    [Fact]
    public void A_list_lives_while_a_compiled_rule_holds_it()
    {
        var k = new StatefulKit();
        var a = (CompiledRecentMatch)k.Compile<RecentMatch>("-p udp -m recent --set --name L");
        k.Udp("198.51.100.2", "198.51.100.1", 1, 1);
        k.Run(a);
        // A new ruleset compiled before the old one is disposed keeps the list and its entries.
        var b = (CompiledRecentMatch)k.Compile<RecentMatch>("-p udp -m recent --set --name L");
        a.Dispose();
        a.Dispose();
        Assert.Equal(["L"], k.State.Recent.Names);
        Assert.Equal(1, b.Table.Count);
        b.Dispose();
        Assert.Empty(k.State.Recent.Names);
        var ex = Assert.Throws<RecentProcException>(() => k.State.Recent.Read("L"));
        Assert.Equal(RecentProcException.ENOENT, ex.Errno);
        var c = (CompiledRecentMatch)k.Compile<RecentMatch>("-p udp -m recent --set --name L");
        Assert.Equal(0, c.Table.Count);
    }

    [Fact]
    public void The_packet_path_does_not_allocate()
    {
        var k = new StatefulKit();
        var set = k.Compile<RecentMatch>("-p udp -m recent --set --name N --rdest");
        var update = k.Compile<RecentMatch>("-p udp -m recent --update --seconds 5 --hitcount 3 --reap --name N --rdest");
        k.Udp("198.51.100.2", "10.0.0.0", 1, 1);
        void Burst()
        {
            // 300 destinations cycle the 100-entry list: inserts, evictions, updates and reaps.
            for (int i = 0; i < 300; i++)
            {
                k.Packet.Buffer[18] = (byte)(i >> 8);
                k.Packet.Buffer[19] = (byte)i;
                k.Packet.Reparse();
                k.Run(set);
                k.Run(update);
                k.AdvanceJiffies(1);
            }
        }
        Burst();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Burst();
        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }
}
