using SharpTables.Rules.Extensions.Limit;

namespace SharpTables.Engine.Tests.Stateful;

/// <summary>
/// -m limit as iptables-nft runs it (nft_limit: a nanosecond token bucket), against the oracle.
/// </summary>
public class LimitTests
{
    [Fact]
    public void Four_per_minute_lets_the_burst_of_5_through_then_one_every_15_seconds()
    {
        // Oracle (README "limit", webhost example): --limit 4/min, default burst 5.
        var k = new StatefulKit();
        var limit = k.Compile<LimitMatch>("-m limit --limit 4/min");
        k.Udp("198.51.100.2", "198.51.100.1", 1, 1);
        Assert.Equal([true, true, true, true, true, false, false], Enumerable.Range(0, 7).Select(_ => k.Run(limit)));
        k.Time.Advance(TimeSpan.FromSeconds(15) - TimeSpan.FromTicks(1));
        Assert.False(k.Run(limit));
        k.Time.Advance(TimeSpan.FromTicks(1)); // 15 s after the burst was used up
        Assert.True(k.Run(limit));
        Assert.False(k.Run(limit));
        k.Time.Advance(TimeSpan.FromSeconds(15));
        Assert.True(k.Run(limit));
    }

    [Fact]
    public void Ten_per_second_burst_3_follows_the_kernel_packet_by_packet()
    {
        // Oracle run: 10 UDP packets "count 10, interval_ms 30" through
        // "-m limit --limit 10/sec --limit-burst 3 -j ACCEPT" then DROP; the sender's clock (ms
        // after the first packet) and the verdicts it observed.
        double[] sent = [0, 35.4, 66.4, 99.4, 143.4, 174.5, 205.5, 258.1, 291.3, 322.3];
        bool[] accepted = [true, true, true, false, true, false, true, false, false, true];
        var k = new StatefulKit();
        var limit = k.Compile<LimitMatch>("-p udp --dport 2000 -m limit --limit 10/sec --limit-burst 3");
        k.Time.AdvanceMilliseconds(1000); // the rule was loaded a while before
        k.Udp("198.51.100.2", "198.51.100.1", 1, 2000);
        double now = 0;
        var seen = new List<bool>();
        foreach (double t in sent)
        {
            k.Time.AdvanceMilliseconds(t - now);
            now = t;
            seen.Add(k.Run(limit));
        }
        Assert.Equal(accepted, seen);
    }

    [Fact]
    public void A_rule_keeps_its_bucket_when_recompiled_and_a_new_rule_starts_full()
    {
        var k = new StatefulKit();
        var rule = StatefulKit.ParseRule("-m limit --limit 1/hour --limit-burst 2");
        var first = k.Compile<LimitMatch>(rule);
        k.Udp("198.51.100.2", "198.51.100.1", 1, 1);
        Assert.True(k.Run(first));
        Assert.True(k.Run(first));
        Assert.False(k.Run(k.Compile<LimitMatch>(rule))); // same rule after a ruleset swap: still empty
        Assert.True(k.Run(k.Compile<LimitMatch>("-m limit --limit 1/hour --limit-burst 2"))); // a new rule
    }

    [Fact]
    public void Matching_does_not_allocate()
    {
        var k = new StatefulKit();
        var limit = k.Compile<LimitMatch>("-m limit --limit 100/sec");
        k.Udp("198.51.100.2", "198.51.100.1", 1, 1);
        k.Run(limit);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            k.Run(limit);
            k.Time.AdvanceMilliseconds(3);
        }
        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }
}
