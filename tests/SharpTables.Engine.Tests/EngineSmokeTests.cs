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
}
