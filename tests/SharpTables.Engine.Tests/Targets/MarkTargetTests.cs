using SharpTables.Engine.Conntrack;
using SharpTables.Engine.Tests.Matches;

namespace SharpTables.Engine.Tests.Targets;

/// <summary>MARK (xt_mark's mark_tg) and CONNMARK revision 2 (xt_connmark's connmark_tg_shift).</summary>
public class MarkTargetTests
{
    [Theory]
    [InlineData("-j MARK --set-mark 5", 0xffu, 5u)]
    [InlineData("-j MARK --set-mark 0x1/0xf", 0xf2u, 0xf1u)]
    [InlineData("-j MARK --set-xmark 0x1/0xf", 0xf2u, 0xf1u)]
    [InlineData("-j MARK --set-xmark 0x10/0x0", 0x11u, 0x01u)]
    [InlineData("-j MARK --and-mark 0x0f", 0xf3u, 0x03u)]
    [InlineData("-j MARK --or-mark 0x100", 0x3u, 0x103u)]
    [InlineData("-j MARK --xor-mark 0x3", 0x5u, 0x6u)]
    public void Mark(string rule, uint before, uint after)
    {
        var p = RuleUnderTest.Load("tcp");
        p.Mark = before;
        Assert.Equal(TargetVerdict.Continue, RuleUnderTest.Target(rule)(p));
        Assert.Equal(after, p.Mark);
    }

    [Theory]
    // --set-*: ctmark = ((ctmark & ~ctmask) ^ ctmark_value) shifted as a whole
    [InlineData("-j CONNMARK --set-mark 0x5", 0x1u, 0xf0u, 0x1u, 0x5u)]
    [InlineData("-j CONNMARK --set-xmark 0x1/0xf", 0x1u, 0xf2u, 0x1u, 0xf1u)]
    [InlineData("-j CONNMARK --set-xmark 0x1/0xf --left-shift-mark 4", 0x1u, 0xf2u, 0x1u, 0xf10u)]
    [InlineData("-j CONNMARK --or-mark 0x8 --right-shift-mark 1", 0x1u, 0x3u, 0x1u, 0x5u)]
    // --save-mark: ctmark = (ctmark & ~ctmask) ^ ((mark & nfmask) shifted)
    [InlineData("-j CONNMARK --save-mark", 0x1234u, 0xffu, 0x1234u, 0x1234u)]
    // (0xffff & ~0xff00) ^ 0x34: the copied bits are XORed into what ctmask keeps
    [InlineData("-j CONNMARK --save-mark --nfmask 0xff --ctmask 0xff00", 0x1234u, 0xffffu, 0x1234u, 0x00cbu)]
    [InlineData("-j CONNMARK --save-mark --mask 0xff", 0x1234u, 0xff00u, 0x1234u, 0xff34u)]
    [InlineData("-j CONNMARK --save-mark --nfmask 0xf0 --ctmask 0xff --left-shift-mark 4", 0x12u, 0x0u, 0x12u, 0x100u)]
    // --restore-mark: mark = (mark & ~nfmask) ^ ((ctmark & ctmask) shifted)
    [InlineData("-j CONNMARK --restore-mark", 0x1u, 0x5u, 0x5u, 0x5u)]
    [InlineData("-j CONNMARK --restore-mark --mask 0xff", 0xa00u, 0x1234u, 0xa34u, 0x1234u)]
    [InlineData("-j CONNMARK --restore-mark --ctmask 0xff00 --nfmask 0xff --right-shift-mark 8", 0xa00u, 0x1234u, 0xa12u, 0x1234u)]
    public void Connmark(string rule, uint mark, uint ctmark, uint markAfter, uint ctmarkAfter)
    {
        var p = RuleUnderTest.Load("tcp");
        p.Mark = mark;
        p.Conn = new Connection { Mark = ctmark };
        Assert.Equal(TargetVerdict.Continue, RuleUnderTest.Target(rule)(p));
        Assert.Equal(markAfter, p.Mark);
        Assert.Equal(ctmarkAfter, p.Conn.Mark);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Connmark_restore_without_a_connection_leaves_the_mark(bool untracked)
    {
        var p = RuleUnderTest.Load("tcp");
        p.Mark = 7;
        p.Untracked = untracked;
        Assert.Equal(TargetVerdict.Continue, RuleUnderTest.Target("-j CONNMARK --restore-mark")(p));
        Assert.Equal(7u, p.Mark);
    }
}
