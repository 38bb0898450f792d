using SharpTables.Rules.Model;
using static SharpTables.Engine.Tests.Matches.Outcome;

namespace SharpTables.Engine.Tests.Matches;

/// <summary>
/// addrtype (route types from the host's interfaces) and owner (the sending socket). The host is
/// the oracle's "fw": lo 127.0.0.1/8 and eth0 198.51.100.1/24; lines marked "oracle" are what
/// the real kernel did with the same rule and packet (oracle-run --backend nft, mangle table).
/// </summary>
public class HostMatchTests
{
    private static (EngineState State, NetInterface Eth0, NetInterface Lo) Host()
    {
        var state = new EngineState(new ManualTime());
        var eth0 = state.Network.Add("eth0", [2, 0, 0, 0, 0, 2]);
        eth0.IPv4.Add((0xC6336401, 24)); // 198.51.100.1/24
        eth0.IPv6.Add((Packets.PacketParser.ReadUInt128(System.Net.IPAddress.Parse("2001:db8:100::1").GetAddressBytes()), 64));
        state.Network.DefaultRoute = eth0;
        return (state, eth0, state.Network.Find("lo")!);
    }

    [Theory]
    // oracle, client -> fw over eth0 at PREROUTING
    [InlineData("--dst-type LOCAL", "udp dst=198.51.100.1", "eth0", Match)]
    [InlineData("--dst-type LOCAL --limit-iface-in", "udp dst=198.51.100.1", "eth0", Match)]
    [InlineData("--dst-type BROADCAST", "udp dst=198.51.100.255", "eth0", Match)]
    [InlineData("--dst-type UNICAST", "udp dst=198.51.100.255", "eth0", NoMatch)]
    // the network address is plain unicast (no broadcast route for it in current kernels)
    [InlineData("--dst-type UNICAST", "udp dst=198.51.100.0", "eth0", Match)]
    [InlineData("! --dst-type LOCAL,BROADCAST", "udp dst=198.51.100.0", "eth0", Match)]
    // 127/8 is lo's: LOCAL, but not when looked up on eth0 only
    [InlineData("--dst-type LOCAL", "udp dst=127.0.0.1", "eth0", Match)]
    [InlineData("--dst-type LOCAL --limit-iface-in", "udp dst=127.0.0.1", "eth0", NoMatch)]
    [InlineData("--dst-type LOCAL", "udp dst=127.9.9.9", "eth0", Match)]
    [InlineData("--dst-type BROADCAST", "udp dst=127.255.255.255", "eth0", Match)]
    [InlineData("--src-type BROADCAST", "udp src=0.0.0.0 dst=255.255.255.255", "eth0", Match)]
    [InlineData("--dst-type BROADCAST", "udp src=0.0.0.0 dst=255.255.255.255", "eth0", Match)]
    [InlineData("--dst-type UNICAST", "udp dst=203.0.113.9", "eth0", Match)]
    [InlineData("--dst-type MULTICAST", "udp dst=224.0.0.251", "eth0", Match)]
    [InlineData("! --dst-type LOCAL,BROADCAST", "udp dst=224.0.0.251", "eth0", Match)]
    // fw -> fw over lo: 198.51.100.1 is eth0's address, so not LOCAL when limited to lo
    // (oracle: only the ICMP answer to 127.0.0.1 moved the --limit-iface-in counter)
    [InlineData("--dst-type LOCAL --limit-iface-in", "udp src=127.0.0.1 dst=198.51.100.1", "lo", NoMatch)]
    [InlineData("--dst-type LOCAL --limit-iface-in", "udp src=198.51.100.1 dst=127.0.0.1", "lo", Match)]
    [InlineData("--src-type LOCAL --dst-type LOCAL", "udp src=198.51.100.1 dst=127.0.0.1", "lo", Match)]
    [InlineData("--src-type LOCAL ! --dst-type LOCAL", "udp src=198.51.100.1 dst=127.0.0.1", "lo", NoMatch)]
    [InlineData("--dst-type BLACKHOLE,UNREACHABLE,PROHIBIT", "udp dst=203.0.113.9", "eth0", NoMatch)]
    public void Addrtype_ipv4(string options, string packet, string inIface, Outcome expected)
    {
        var (state, eth0, lo) = Host();
        var p = RuleUnderTest.Load(packet, Hook.PreRouting);
        p.In = inIface == "lo" ? lo : eth0;
        var match = RuleUnderTest.Matches("-m addrtype " + options, state, "mangle", "PREROUTING");
        Assert.Equal(expected, match(p));
    }

    [Theory]
    [InlineData("--src-type LOCAL --limit-iface-out", "udp src=127.0.0.1 dst=198.51.100.1", "lo", Match)]
    [InlineData("--src-type LOCAL --limit-iface-out", "udp src=198.51.100.1 dst=127.0.0.1", "lo", NoMatch)]
    [InlineData("--src-type LOCAL --limit-iface-out", "udp src=198.51.100.1 dst=198.51.100.2", "eth0", Match)]
    // a limit to the output interface at a hook without one looks at every interface
    [InlineData("--src-type LOCAL --limit-iface-out", "udp src=198.51.100.1 dst=198.51.100.2", "", Match)]
    public void Addrtype_limit_iface_out(string options, string packet, string outIface, Outcome expected)
    {
        var (state, eth0, lo) = Host();
        var p = RuleUnderTest.Load(packet, Hook.Output);
        p.Out = outIface switch { "lo" => lo, "eth0" => eth0, _ => null };
        Assert.Equal(expected, RuleUnderTest.Matches("-m addrtype " + options, state, "mangle", "OUTPUT")(p));
    }

    [Theory]
    [InlineData("--dst-type LOCAL", "udp v6 dst=2001:db8:100::1", Match)]
    [InlineData("--dst-type LOCAL", "udp v6 dst=::1", Match)]
    [InlineData("--dst-type LOCAL", "udp v6 dst=2001:db8:100::2", NoMatch)]
    [InlineData("--dst-type UNICAST", "udp v6 dst=2001:db8:100::2", Match)]
    [InlineData("--dst-type MULTICAST", "udp v6 dst=ff02::1", Match)]
    [InlineData("--dst-type UNICAST", "udp v6 dst=ff02::1", NoMatch)]
    [InlineData("--src-type UNSPEC", "udp v6 src=::", Match)]
    [InlineData("--src-type UNICAST", "udp v6 src=::", NoMatch)]
    public void Addrtype_ipv6(string options, string packet, Outcome expected)
    {
        var (state, eth0, _) = Host();
        var p = RuleUnderTest.Load(packet, Hook.PreRouting);
        p.In = eth0;
        Assert.Equal(expected, RuleUnderTest.Matches("-m addrtype " + options, state, "mangle", "PREROUTING", Family.IPv6)(p));
    }

    [Theory]
    [InlineData("--uid-owner 1000", 1000, 100, Match)]
    [InlineData("--uid-owner 1000", 1001, 100, NoMatch)]
    [InlineData("--uid-owner 1000-2000", 1500, 100, Match)]
    [InlineData("! --uid-owner 1000", 1001, 100, Match)]
    [InlineData("--gid-owner 100", 0, 100, Match)]
    [InlineData("--uid-owner 0 ! --gid-owner 100", 0, 100, NoMatch)]
    [InlineData("--socket-exists", 0, 0, Match)]
    [InlineData("! --socket-exists", 0, 0, NoMatch)]
    // no socket: true only when every test is inverted
    [InlineData("--uid-owner 0", -1, -1, NoMatch)]
    [InlineData("! --uid-owner 0", -1, -1, Match)]
    [InlineData("! --socket-exists", -1, -1, Match)]
    [InlineData("--socket-exists", -1, -1, NoMatch)]
    [InlineData("! --uid-owner 0 --gid-owner 0", -1, -1, NoMatch)]
    [InlineData("! --uid-owner 0 ! --gid-owner 0", -1, -1, Match)]
    [InlineData("! --gid-owner 5 --suppl-groups", -1, -1, NoMatch)]
    public void Owner(string options, int uid, int gid, Outcome expected)
    {
        var p = RuleUnderTest.Load("tcp", Hook.Output);
        p.SocketUid = uid;
        p.SocketGid = gid;
        Assert.Equal(expected, RuleUnderTest.Matches("-m owner " + options, chain: "OUTPUT")(p));
    }
}
