using SharpTables.Engine.Matches;
using SharpTables.Rules.Extensions.Hashlimit;
using SharpTables.Rules.Model;

namespace SharpTables.Engine.Tests.Stateful;

/// <summary>
/// xt_hashlimit revision 3 against one oracle run (iptables-nft 1.8.9, Linux 6.18) of these rules:
/// <code>
/// H1: --hashlimit-upto 2/sec --hashlimit-burst 3 --hashlimit-mode srcip
/// H2: --hashlimit-upto 1/min --hashlimit-burst 1 --hashlimit-mode srcip,dstport --hashlimit-htable-expire 500 --hashlimit-htable-gcinterval 200
/// H3: --hashlimit-above 1kb/s --hashlimit-burst 2kb --hashlimit-mode srcip --hashlimit-srcmask 24 (-j DROP)
/// H4: --hashlimit-upto 5/sec
/// </code>
/// and /proc/net/ipt_hashlimit/NAME read in the kept namespace afterwards.
/// </summary>
public class HashlimitTests
{
    private const string H1 = "-p udp --dport 3000 -m hashlimit --hashlimit-upto 2/sec --hashlimit-burst 3 --hashlimit-mode srcip --hashlimit-name H1";
    private const string H2 = "-p udp --dport 3001 -m hashlimit --hashlimit-upto 1/min --hashlimit-burst 1 --hashlimit-mode srcip,dstport --hashlimit-name H2 --hashlimit-htable-expire 500 --hashlimit-htable-gcinterval 200";
    private const string H3 = "-p udp --dport 3002 -m hashlimit --hashlimit-above 1kb/s --hashlimit-burst 2kb --hashlimit-mode srcip --hashlimit-srcmask 24 --hashlimit-name H3";
    private const string H4 = "-p udp --dport 3003 -m hashlimit --hashlimit-upto 5/sec --hashlimit-name H4";

    private static bool[] Send(StatefulKit k, CompiledMatch m, int count) =>
        Enumerable.Range(0, count).Select(_ => k.Run(m)).ToArray();

    [Fact]
    public void Each_source_gets_its_own_bucket()
    {
        // Oracle: .2 x5 -> 3 accepted; .3 x5 -> 3 accepted; 600 ms later .2 x2 -> 1 accepted.
        var k = new StatefulKit();
        var m = k.Compile<HashlimitMatch>(H1);
        k.Udp("198.51.100.2", "198.51.100.1", 40000, 3000);
        Assert.Equal([true, true, true, false, false], Send(k, m, 5));
        k.AdvanceJiffies(8);
        k.Udp("198.51.100.3", "198.51.100.1", 40000, 3000);
        Assert.Equal([true, true, true, false, false], Send(k, m, 5));
        k.Time.AdvanceMilliseconds(630);
        k.Udp("198.51.100.2", "198.51.100.1", 40000, 3000);
        Assert.Equal([true, false], Send(k, m, 2));
    }

    [Fact]
    public void A_non_first_fragment_is_counted_with_ports_zero_not_hot_dropped()
    {
        // Differential corpus b0003 case 10 (oracle): a UDP fragment at offset 1480 matched
        // "--hashlimit-upto 2/hour --hashlimit-burst 5 --hashlimit-mode dstport" and was accepted;
        // hashlimit_init_dst leaves the ports 0 for IPv4 fragments other than the first.
        var k = new StatefulKit();
        var m = k.Compile<HashlimitMatch>("-m hashlimit --hashlimit-upto 2/hour --hashlimit-burst 2 --hashlimit-mode dstport --hashlimit-name F");
        k.Udp("198.51.100.2", "198.51.100.1", 40000, 31517);
        k.Packet.Buffer[6] = 0x20; // MF, offset 185 * 8
        k.Packet.Buffer[7] = 185;
        k.Packet.Reparse();
        Assert.True(k.Packet.Info.IsFragment);
        Assert.True(k.Run(m, out bool hotdrop));
        Assert.False(hotdrop);
        k.Udp("198.51.100.3", "198.51.100.1", 40000, 0); // the same bucket: destination port 0
        Assert.True(k.Run(m));
        Assert.False(k.Run(m)); // burst of 2 used up
    }

    [Fact]
    public void An_expired_entry_is_collected_and_its_flow_starts_with_a_full_bucket()
    {
        // Oracle: 1/min burst 1, expire 500 ms, gc every 200 ms: x2 -> accepted, dropped; after
        // 1 s x2 -> accepted, dropped again. The entry then lists as
        // "0 198.51.100.2:0->0.0.0.0:3001 45079976738816 8246337180000000 8246337180000000"
        // (82 jiffies of credit at 2^39 per jiffy; cost = cap = 60 000 000 us in credits).
        var k = new StatefulKit();
        var m = (CompiledHashlimitMatch)k.Compile<HashlimitMatch>(H2);
        k.Udp("198.51.100.2", "198.51.100.1", 40000, 3001);
        Assert.Equal([true, false], Send(k, m, 2));
        k.Time.AdvanceMilliseconds(1000);
        Assert.Equal([true, false], Send(k, m, 2));
        k.AdvanceJiffies(82);
        Assert.Equal("0 198.51.100.2:0->0.0.0.0:3001 45079976738816 8246337180000000 8246337180000000\n", m.Table.Format());
    }

    [Fact]
    public void Without_garbage_collection_an_expired_entry_keeps_its_state()
    {
        // The kernel only forgets an entry when the collector runs (every gcinterval), not at its expiry time.
        var k = new StatefulKit();
        var m = k.Compile<HashlimitMatch>("-p udp -m hashlimit --hashlimit-upto 1/min --hashlimit-burst 1 --hashlimit-mode srcip --hashlimit-name E --hashlimit-htable-expire 100 --hashlimit-htable-gcinterval 60000");
        k.Udp("198.51.100.2", "198.51.100.1", 40000, 3001);
        Assert.True(k.Run(m));
        k.Time.AdvanceMilliseconds(1000);
        Assert.False(k.Run(m));
    }

    [Fact]
    public void Byte_mode_groups_by_srcmask_and_refills_burst_times()
    {
        // Oracle: six 1000-byte packets from .2 -> 3 under the rate (not matched by -above), 3 above;
        // one from .9 (same /24) -> above. /proc then read
        // "59 198.51.100.0:0->0.0.0.0:0 1370569608 0 64527752".
        var k = new StatefulKit();
        var m = (CompiledHashlimitMatch)k.Compile<HashlimitMatch>(H3);
        k.Udp("198.51.100.2", "198.51.100.1", 40000, 3002, payload: 972);
        Assert.Equal(1000, k.Packet.Length);
        Assert.Equal([false, false, false, true, true, true], Send(k, m, 6));
        k.AdvanceJiffies(9);
        k.Udp("198.51.100.9", "198.51.100.1", 40000, 3002, payload: 972);
        Assert.True(k.Run(m));
        k.AdvanceJiffies(65);
        Assert.Equal("59 198.51.100.0:0->0.0.0.0:0 1370569608 0 64527752\n", m.Table.Format());
    }

    [Fact]
    public void Packet_mode_credits_match_the_kernel_listing()
    {
        // Oracle: 5/sec (default burst 5): 7 packets -> 5 accepted; 56 jiffies later /proc read
        // "0 0.0.0.0:0->0.0.0.0:0 30786325577728 137438953000000 27487790600000".
        var k = new StatefulKit();
        var m = (CompiledHashlimitMatch)k.Compile<HashlimitMatch>(H4);
        k.Udp("198.51.100.2", "198.51.100.1", 40000, 3003);
        Assert.Equal([true, true, true, true, true, false, false], Send(k, m, 7));
        k.AdvanceJiffies(56);
        Assert.Equal("0 0.0.0.0:0->0.0.0.0:0 30786325577728 137438953000000 27487790600000\n", m.Table.Format());
    }

    [Fact]
    public void Rules_with_the_same_name_share_the_table_configured_by_the_first()
    {
        var k = new StatefulKit();
        var a = (CompiledHashlimitMatch)k.Compile<HashlimitMatch>("-p udp -m hashlimit --hashlimit-upto 1/min --hashlimit-burst 2 --hashlimit-mode srcip --hashlimit-name S");
        // Different rate and mode, same name: the table (and its buckets) of the first rule is used.
        var b = (CompiledHashlimitMatch)k.Compile<HashlimitMatch>("-p udp -m hashlimit --hashlimit-upto 100/sec --hashlimit-mode dstip --hashlimit-name S");
        Assert.Same(a.Table, b.Table);
        k.Udp("198.51.100.2", "198.51.100.1", 1, 1);
        Assert.True(k.Run(a));
        Assert.True(k.Run(b));
        Assert.False(k.Run(b));
        // Another family has its own table of that name.
        var v6 = (CompiledHashlimitMatch)k.Compile<HashlimitMatch>("-p udp -m hashlimit --hashlimit-upto 1/min --hashlimit-name S", Family.IPv6);
        Assert.NotSame(a.Table, v6.Table);
        // A rate-match rule cannot join a limiting table (the kernel answers EINVAL).
        Assert.Throws<InvalidOperationException>(() => k.Compile<HashlimitMatch>("-p udp -m hashlimit --hashlimit-upto 1/min --hashlimit-rate-match --hashlimit-name S"));
        a.Dispose();
        b.Dispose();
        Assert.Equal([("S", Family.IPv6)], k.State.Hashlimit.Names);
    }

    [Fact]
    public void Port_modes_key_on_the_ports()
    {
        var k = new StatefulKit();
        var m = k.Compile<HashlimitMatch>("-p udp -m hashlimit --hashlimit-upto 1/min --hashlimit-burst 1 --hashlimit-mode srcport --hashlimit-name P");
        k.Udp("198.51.100.2", "198.51.100.1", 1000, 1);
        Assert.True(k.Run(m));
        Assert.False(k.Run(m));
        k.Udp("198.51.100.2", "198.51.100.1", 1001, 1);
        Assert.True(k.Run(m)); // another source port, another bucket
    }

    [Fact]
    public void A_full_table_hot_drops_new_flows()
    {
        var k = new StatefulKit();
        var m = k.Compile<HashlimitMatch>("-p udp -m hashlimit --hashlimit-upto 10/sec --hashlimit-mode srcip --hashlimit-name F --hashlimit-htable-size 1 --hashlimit-htable-max 2");
        foreach (var src in new[] { "10.0.0.1", "10.0.0.2" })
        {
            k.Udp(src, "198.51.100.1", 1, 1);
            Assert.True(k.Run(m));
        }
        k.Udp("10.0.0.3", "198.51.100.1", 1, 1);
        Assert.False(k.Run(m, out bool hotdrop));
        Assert.True(hotdrop);
    }

    [Fact]
    public void Matching_known_flows_does_not_allocate()
    {
        var k = new StatefulKit();
        var m = k.Compile<HashlimitMatch>("-p udp -m hashlimit --hashlimit-upto 100/sec --hashlimit-mode srcip,dstport --hashlimit-name A --hashlimit-htable-expire 100 --hashlimit-htable-gcinterval 50");
        k.Udp("198.51.100.2", "198.51.100.1", 1, 1);
        void Burst()
        {
            for (int i = 0; i < 64; i++)
            {
                k.Packet.Buffer[22] = (byte)i; // destination port
                k.Packet.Reparse();
                k.Run(m);
                k.AdvanceJiffies(3);
            }
        }
        Burst();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Burst();
        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }
}
