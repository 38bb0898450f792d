using SharpTables.Packets;

namespace SharpTables.Engine;

/// <summary>One network interface of the protected host.</summary>
public sealed class NetInterface
{
    public NetInterface(string name, int index, ReadOnlySpan<byte> mac = default)
    {
        Name = name;
        Index = index;
        Mac = mac.Length == 6 ? mac.ToArray() : new byte[6];
    }

    public string Name { get; }
    public int Index { get; }
    /// <summary>Hardware address (all zero for lo).</summary>
    public byte[] Mac { get; }
    /// <summary>IPv4 addresses with prefix length (host order in the low 32 bits).</summary>
    public List<(UInt128 Address, int Prefix)> IPv4 { get; } = [];
    public List<(UInt128 Address, int Prefix)> IPv6 { get; } = [];
    public bool IsLoopback => Name == "lo";
}

/// <summary>
/// The host the ruleset protects: its interfaces and addresses. Used by addrtype (LOCAL,
/// BROADCAST…), MASQUERADE (the out interface's address), REDIRECT (the in interface's address)
/// and the host model that answers packets addressed to it.
/// </summary>
public sealed class HostNetwork
{
    private readonly List<NetInterface> _interfaces = [];

    public HostNetwork()
    {
        var lo = new NetInterface("lo", 1);
        lo.IPv4.Add((0x7f000001, 8));
        lo.IPv6.Add((UInt128.One, 128));
        _interfaces.Add(lo);
    }

    public IReadOnlyList<NetInterface> Interfaces => _interfaces;

    /// <summary>net.ipv4.ip_forward: without it, packets for other hosts are dropped after PREROUTING.</summary>
    public bool Forwarding { get; set; }

    /// <summary>Where packets go that no connected subnet covers.</summary>
    public NetInterface? DefaultRoute { get; set; }

    /// <summary>The output interface for a destination: lo for local addresses, the interface whose subnet holds it, else the default route.</summary>
    public NetInterface? Route(byte version, UInt128 destination)
    {
        if (IsLocal(version, destination)) return _interfaces[0];
        NetInterface? best = null;
        int bestPrefix = -1;
        foreach (var i in _interfaces)
        {
            var list = version == 4 ? i.IPv4 : i.IPv6;
            int bits = version == 4 ? 32 : 128;
            foreach (var (a, prefix) in list)
            {
                if (prefix <= bestPrefix || i.IsLoopback) continue;
                UInt128 mask = prefix == 0 ? 0 : (version == 4 ? (UInt128)(uint.MaxValue << (32 - prefix)) : UInt128.MaxValue << (bits - prefix));
                if ((a & mask) == (destination & mask)) { best = i; bestPrefix = prefix; }
            }
        }
        return best ?? DefaultRoute;
    }

    public NetInterface Add(string name, ReadOnlySpan<byte> mac = default)
    {
        var existing = Find(name);
        if (existing != null) return existing;
        var i = new NetInterface(name, _interfaces.Count + 1, mac);
        _interfaces.Add(i);
        return i;
    }

    public NetInterface? Find(string name)
    {
        foreach (var i in _interfaces) if (i.Name == name) return i;
        return null;
    }

    /// <summary>Whether the address belongs to this host (RTN_LOCAL).</summary>
    public bool IsLocal(byte version, UInt128 address)
    {
        if (version == 4)
        {
            if ((uint)(address >> 24) == 127) return true;
            foreach (var i in _interfaces) foreach (var (a, _) in i.IPv4) if (a == address) return true;
        }
        else
        {
            foreach (var i in _interfaces) foreach (var (a, _) in i.IPv6) if (a == address) return true;
        }
        return false;
    }

    /// <summary>Whether the address is the broadcast address of one of the host's IPv4 subnets, or 255.255.255.255.</summary>
    public bool IsBroadcast(UInt128 address)
    {
        if (address == 0xffffffff) return true;
        foreach (var i in _interfaces)
            foreach (var (a, prefix) in i.IPv4)
            {
                if (prefix >= 31) continue;
                uint mask = prefix == 0 ? 0 : uint.MaxValue << (32 - prefix);
                if ((uint)address == ((uint)a | ~mask)) return true;
            }
        return false;
    }

    /// <summary>The first IPv4 address of an interface (what MASQUERADE and REDIRECT pick), or null.</summary>
    public UInt128? PrimaryAddress(NetInterface? iface, byte version)
    {
        if (iface == null) return null;
        var list = version == 4 ? iface.IPv4 : iface.IPv6;
        return list.Count > 0 ? list[0].Address : null;
    }
}
