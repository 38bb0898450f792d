using System.Net;
using System.Text.Json;
using SharpTables.Engine;
using SharpTables.Packets;

namespace SharpTables.Simulation;

/// <summary>
/// The oracle's namespaces: client — fw (the firewall, eth0) and, in router mode, fw (eth1) —
/// backend. Addresses are the oracle's; MAC addresses are random per oracle run, so they can be
/// taken from an oracle result to reproduce its LOG lines.
/// </summary>
public sealed class Topology
{
    public bool Router { get; init; }
    public Dictionary<string, byte[]> Macs { get; } = new()
    {
        ["client/eth0"] = [2, 0, 0, 0, 0, 1],
        ["fw/eth0"] = [2, 0, 0, 0, 0, 2],
        ["fw/eth1"] = [2, 0, 0, 0, 0, 3],
        ["backend/eth0"] = [2, 0, 0, 0, 0, 4],
    };

    public static readonly IReadOnlyDictionary<string, (string V4, string V6)> Addresses = new Dictionary<string, (string, string)>
    {
        ["client/eth0"] = ("198.51.100.2", "2001:db8:100::2"),
        ["fw/eth0"] = ("198.51.100.1", "2001:db8:100::1"),
        ["fw/eth1"] = ("203.0.113.1", "2001:db8:113::1"),
        ["backend/eth0"] = ("203.0.113.2", "2001:db8:113::2"),
    };

    public static UInt128 Address(string key, bool v6) => Parse(v6 ? Addresses[key].V6 : Addresses[key].V4);

    /// <summary>Parses an IPv4 or IPv6 address into the engine's UInt128 form.</summary>
    public static UInt128 Parse(string s)
    {
        if (!IPAddress.TryParse(s, out var a)) throw new ScenarioException($"bad address \"{s}\"");
        var b = a.GetAddressBytes();
        if (b.Length == 4) return (uint)(b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]);
        return PacketParser.ReadUInt128(b);
    }

    /// <summary>Takes the MAC addresses (and router mode) from an oracle result's "topology".</summary>
    public static Topology FromOracleResult(JsonElement result, bool? router = null)
    {
        var topo = result.GetProperty("topology");
        var t = new Topology { Router = router ?? topo.GetProperty("mode").GetString() == "router" };
        foreach (var i in topo.GetProperty("interfaces").EnumerateObject())
            if (i.Value.TryGetProperty("mac", out var mac) && mac.GetString() is string m)
                t.Macs[i.Name] = Convert.FromHexString(m.Replace(":", ""));
        return t;
    }

    /// <summary>The fw namespace as the engine sees it.</summary>
    public HostNetwork BuildFirewall()
    {
        var net = new HostNetwork { Forwarding = Router };
        var eth0 = net.Add("eth0", Macs["fw/eth0"]);
        eth0.IPv4.Add((Address("fw/eth0", false), 24));
        eth0.IPv6.Add((Address("fw/eth0", true), 64));
        if (Router)
        {
            var eth1 = net.Add("eth1", Macs["fw/eth1"]);
            eth1.IPv4.Add((Address("fw/eth1", false), 24));
            eth1.IPv6.Add((Address("fw/eth1", true), 64));
        }
        net.DefaultRoute = eth0;
        return net;
    }
}
