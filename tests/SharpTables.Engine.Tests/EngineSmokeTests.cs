namespace SharpTables.Engine.Tests;

public class ClockTests
{
    [Fact]
    public void Jiffies_follow_the_injected_clock_at_250_hz()
    {
        var t = new ManualTime();
        var c = new EngineClock(t);
        ulong j0 = c.Jiffies;
        t.AdvanceMilliseconds(1000);
        Assert.Equal(250UL, c.Jiffies - j0);
        t.AdvanceMilliseconds(3.9);
        Assert.Equal(250UL, c.Jiffies - j0); // 4 ms per jiffy
        t.AdvanceMilliseconds(0.2);
        Assert.Equal(251UL, c.Jiffies - j0);
    }

    [Fact]
    public void A_phase_moves_the_jiffy_boundaries_but_not_the_rate()
    {
        var t = new ManualTime();
        var c = new EngineClock(t, phase: TimeSpan.FromMilliseconds(2.5));
        ulong j0 = c.Jiffies;
        t.AdvanceMilliseconds(1.4);
        Assert.Equal(j0, c.Jiffies);
        t.AdvanceMilliseconds(0.2); // 2.5 + 1.6 ms: past the first boundary
        Assert.Equal(j0 + 1, c.Jiffies);
        t.AdvanceMilliseconds(1000);
        Assert.Equal(j0 + 251, c.Jiffies);
        Assert.Throws<ArgumentOutOfRangeException>(() => new EngineClock(t, phase: TimeSpan.FromMilliseconds(4)));
    }
}
