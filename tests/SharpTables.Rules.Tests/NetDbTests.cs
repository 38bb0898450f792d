using SharpTables.Rules.Extensions;

namespace SharpTables.Rules.Tests;

/// <summary>Protocol names as iptables 1.8.9 prints them (observed with the real tool, tests/fixtures/listing/interfaces).</summary>
public class NetDbTests
{
    [Theory]
    [InlineData(58, "ipv6-icmp")]
    [InlineData(135, "mobility-header")]
    [InlineData(47, "gre")]
    [InlineData(6, "tcp")]
    [InlineData(0, "all")]
    public void Protocol_names_come_from_etc_protocols_first(int number, string name) =>
        Assert.Equal(name, NetDb.ProtocolName(number));
}
