using SharpTables.Engine.State;
using SharpTables.Rules.Extensions.Recent;

namespace SharpTables.Engine.Tests.Stateful;

/// <summary>
/// Writes to /proc/net/xt_recent/NAME. Expectations come from the real kernel: an oracle-run
/// namespace kept with --keep, where each input was written with one write(2) (and the rest of
/// the text in further calls, as echo does) to a list created by
/// "-m recent --set --name P --mask 255.255.255.0", and the list read back.
/// </summary>
public class RecentProcTests
{
    private static (StatefulKit Kit, RecentTables Recent) NewList()
    {
        var k = new StatefulKit();
        k.Compile<RecentMatch>("-p udp -m recent --set --name P --mask 255.255.255.0");
        return (k, k.State.Recent);
    }

    private static string[] Sources(RecentTables r) =>
        r.Read("P").Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')[0][4..]).Order(StringComparer.Ordinal).ToArray();

    [Theory]
    [InlineData("+198.51.100.77\n", "198.51.100.77")] // the list's /24 mask is not applied
    [InlineData("+198.51.100.77", "198.51.100.77")]
    [InlineData("+01.002.3.4\n", "1.2.3.4")]
    [InlineData("+0.0.0.0\n", "0.0.0.0")]
    [InlineData("+1.2.3.4\0zz", "1.2.3.4")]
    [InlineData("+2001:db8::5\n", "2001:0db8:0000:0000:0000:0000:0000:0005")]
    [InlineData("+::ffff:1.2.3.4\n", "0000:0000:0000:0000:0000:ffff:0102:0304")]
    [InlineData("+1:2:3:4:5:6:7:8\n", "0001:0002:0003:0004:0005:0006:0007:0008")]
    [InlineData("+::\n", "0000:0000:0000:0000:0000:0000:0000:0000")]
    [InlineData("+::1.2.3.4\n", "0000:0000:0000:0000:0000:0000:0102:0304")]
    [InlineData("+1:2:3:4:5:6:1.2.3.4\n", "0001:0002:0003:0004:0005:0006:0102:0304")]
    [InlineData("+ABCD::EF\n", "abcd:0000:0000:0000:0000:0000:0000:00ef")]
    public void Plus_adds_the_address_as_written_with_ttl_0(string input, string listed)
    {
        var (k, recent) = NewList();
        recent.Write("P", input);
        Assert.Equal($"src={listed} ttl: 0 last_seen: {k.Jiffies} oldest_pkt: 1 {k.Jiffies}\n", recent.Read("P"));
    }

    [Theory]
    [InlineData("x1.2.3.4\n")]
    [InlineData("+1.2.3\n")]
    [InlineData("+1.2.3.4.5\n")]
    [InlineData("+256.1.1.1\n")]
    [InlineData("+1.2.3.4 junk\n")]
    [InlineData("+ 1.2.3.4\n")]
    [InlineData("+1.2.3.a\n")]
    [InlineData("+1.2.3.4:\n")]
    [InlineData("+1.2.3.4:5\n")]
    [InlineData("+1.2.3.4\r\n")]
    [InlineData("+1:2:3:4:5:6:7:8:9\n")]
    [InlineData("+1::2::3\n")]
    [InlineData("+12345::1\n")]
    [InlineData("+fe80::1%eth0\n")]
    [InlineData("+1:2:3:4:5:6:7:1.2.3.4\n")]
    public void Bad_input_is_refused_with_EINVAL(string input)
    {
        var (_, recent) = NewList();
        var ex = Assert.Throws<RecentProcException>(() => recent.Write("P", input));
        Assert.Equal(RecentProcException.EINVAL, ex.Errno);
        Assert.Equal("Invalid argument", ex.Message);
        Assert.Equal("", recent.Read("P"));
    }

    [Fact]
    public void Plus_again_records_a_hit_minus_removes_and_slash_empties()
    {
        var (k, recent) = NewList();
        recent.Write("P", "+198.51.100.77\n");
        recent.Write("P", "+10.0.0.1\n");
        k.AdvanceJiffies(3);
        recent.Write("P", "+198.51.100.77");
        ulong j = k.Jiffies;
        Assert.Contains($"src=198.51.100.77 ttl: 0 last_seen: {j} oldest_pkt: 2 {j - 3}, {j}\n", recent.Read("P"));
        recent.Write("P", "-9.9.9.9\n"); // not listed: accepted, nothing happens
        recent.Write("P", "-198.51.100.77\n");
        Assert.Equal(["10.0.0.1"], Sources(recent));
        recent.Write("P", ""); // an empty write does nothing
        recent.Write("P", "/xyz");
        Assert.Equal("", recent.Read("P"));
    }

    [Fact]
    public void Only_the_first_address_of_a_write_counts()
    {
        var (_, recent) = NewList();
        recent.Write("P", "+1.2.3.4\n+5.6.7.8\n");
        Assert.Equal(["1.2.3.4"], Sources(recent));
    }

    [Fact]
    public void Text_beyond_47_bytes_is_refused_with_ESPIPE_after_the_first_part_is_applied()
    {
        var (_, recent) = NewList();
        var ex = Assert.Throws<RecentProcException>(() => recent.Write("P", "+10.0.0.1\n" + new string('0', 60)));
        Assert.Equal(RecentProcException.ESPIPE, ex.Errno);
        Assert.Equal("Illegal seek", ex.Message);
        Assert.Equal(["10.0.0.1"], Sources(recent));
    }

    [Fact]
    public void An_address_added_by_hand_matches_rttl_checks_with_any_ttl()
    {
        // recent_entry_lookup: an entry TTL of 0 matches every packet TTL.
        var k = new StatefulKit();
        var check = k.Compile<RecentMatch>("-p udp -m recent --rcheck --rttl --name Q");
        k.State.Recent.Write("Q", "+198.51.100.2\n");
        k.Udp("198.51.100.2", "198.51.100.1", 1, 1, ttl: 17);
        Assert.True(k.Run(check));
    }

    [Fact]
    public void Writing_to_a_list_that_does_not_exist_fails_with_ENOENT()
    {
        var k = new StatefulKit();
        var ex = Assert.Throws<RecentProcException>(() => k.State.Recent.Write("nope", "/"));
        Assert.Equal(RecentProcException.ENOENT, ex.Errno);
    }
}
