using System.Globalization;
using SharpTables.Rules.Parsing;

namespace SharpTables.Rules.Tests;

/// <summary>
/// IPv6 address text as ip6tables reads and prints it: glibc's inet_pton and inet_ntop. Every row
/// (input, the 16 bytes in hex or null when refused, the text printed back) was produced by glibc
/// itself (Python's socket.inet_pton/inet_ntop on Debian 12, which call glibc).
/// </summary>
public class Ipv6TextTests
{
    [Theory]
    [InlineData("::", "00000000000000000000000000000000", "::")]
    [InlineData("::1", "00000000000000000000000000000001", "::1")]
    [InlineData("1::", "00010000000000000000000000000000", "1::")]
    [InlineData("1::2", "00010000000000000000000000000002", "1::2")]
    [InlineData("::ffff:1.2.3.4", "00000000000000000000ffff01020304", "::ffff:1.2.3.4")]
    [InlineData("::1.2.3.4", "00000000000000000000000001020304", "::1.2.3.4")]
    [InlineData("::0.0.0.1", "00000000000000000000000000000001", "::1")]
    [InlineData("::ffff:0:0", "00000000000000000000ffff00000000", "::ffff:0.0.0.0")]
    [InlineData("::ffff:0.0.0.0", "00000000000000000000ffff00000000", "::ffff:0.0.0.0")]
    [InlineData("1:0:0:4:0:0:7:8", "00010000000000040000000000070008", "1::4:0:0:7:8")]
    [InlineData("1:0:0:4:0:0:0:8", "00010000000000040000000000000008", "1:0:0:4::8")]
    [InlineData("0:0:1:0:0:1:0:0", "00000000000100000000000100000000", "::1:0:0:1:0:0")]
    [InlineData("2001:db8:0:0:1:0:0:1", "20010db8000000000001000000000001", "2001:db8::1:0:0:1")]
    [InlineData("2001:0DB8::0001", "20010db8000000000000000000000001", "2001:db8::1")]
    [InlineData("::fffe:1.2.3.4", "00000000000000000000fffe01020304", "::fffe:102:304")]
    [InlineData("::2:3", "00000000000000000000000000020003", "::0.2.0.3")]
    [InlineData("0:0:0:0:0:1:0:0", "00000000000000000000000100000000", "::1:0:0")]
    [InlineData("1:2:3:4:5:6:1.2.3.4", "00010002000300040005000601020304", "1:2:3:4:5:6:102:304")]
    [InlineData("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffffffffffffffffffffffffffffffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")]
    [InlineData("fe80::1:2", "fe800000000000000000000000010002", "fe80::1:2")]
    [InlineData("1:2:3:4:5:6:7::", "00010002000300040005000600070000", "1:2:3:4:5:6:7:0")]
    [InlineData("::2:3:4:5:6:7:8", "00000002000300040005000600070008", "0:2:3:4:5:6:7:8")]
    [InlineData("1::2:3:4:5:6:7", "00010000000200030004000500060007", "1:0:2:3:4:5:6:7")]
    [InlineData("", null, null)]
    [InlineData(":", null, null)]
    [InlineData(":::", null, null)]
    [InlineData("1:", null, null)]
    [InlineData(":1", null, null)]
    [InlineData("1:::2", null, null)]
    [InlineData("1::2::3", null, null)]
    [InlineData("12345::", null, null)]
    [InlineData("1:2:3:4:5:6:7:8:9", null, null)]
    [InlineData("1:2:3:4:5:6:7::8", null, null)]
    [InlineData("::1.2.3", null, null)]
    [InlineData("::1.2.3.04", null, null)]
    [InlineData("::256.1.1.1", null, null)]
    [InlineData("::1.2.3.4.5", null, null)]
    [InlineData("1:2:3:4:5:6:7:1.2.3.4", null, null)]
    [InlineData("::1.2.3.4:5", null, null)]
    [InlineData("g::", null, null)]
    [InlineData(" ::1", null, null)]
    [InlineData("::1 ", null, null)]
    [InlineData("::1%lo", null, null)]
    [InlineData("1.2.3.4", null, null)]
    [InlineData("::ffff:1.2.3.4/96", null, null)]
    [InlineData("::01.2.3.4", null, null)]
    public void Reads_and_prints_like_glibc(string text, string? hex, string? printed)
    {
        bool ok = Ipv6Text.TryParse(text, out var address);
        Assert.Equal(hex != null, ok);
        if (hex == null) return;
        Assert.Equal(UInt128.Parse(hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture), address);
        Assert.Equal(printed, Ipv6Text.Format(address));
    }

    [Theory]
    [InlineData("ffff:ffff::", 32)]
    [InlineData("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 128)]
    [InlineData("::", 0)]
    [InlineData("8000::", 1)]
    [InlineData("ffff:0:ffff::", -1)]
    [InlineData("::ffff", -1)]
    public void Mask_prefix_lengths_are_those_of_xtables_ip6mask_to_cidr(string mask, int length)
    {
        Assert.True(Ipv6Text.TryParse(mask, out var m));
        Assert.Equal(length, Ipv6Text.PrefixLength(m));
        if (length >= 0) Assert.Equal(m, Ipv6Text.MaskFromPrefix(length));
    }
}
