using SharpTables.Packets;

namespace SharpTables.Packets.Tests;

public class ParserTests
{
    [Fact]
    public void Empty_and_garbage_input_is_not_an_exception()
    {
        Assert.False(PacketParser.Parse([], out _));
        Assert.False(PacketParser.Parse([0x45, 0, 0], out var info));
        Assert.True((info.Flags & PacketFlags.Truncated) != 0);
        Assert.False(PacketParser.Parse([0x10, 1, 2, 3], out _));
    }
}
