using System.Buffers.Binary;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using SharpTables.Engine;

namespace SharpTables.Daemon;

/// <summary>
/// The real host's interfaces as the engine sees them: fills the engine's <see cref="HostNetwork"/>
/// (names, MACs, addresses, ip_forward, the default route) from the network namespace the daemon
/// runs in, and maps the kernel's ifindex of a queued packet to the engine's interface.
/// Reloaded when a packet names an ifindex not seen before (at most once a second). The engine
/// reads the interfaces' lists on the packet path without locks, so a reload pauses it.
/// </summary>
public sealed partial class HostInterfaces
{
    private readonly HostNetwork _network;
    private readonly NetfilterEngine _engine;
    private readonly object _reloadLock = new();
    private volatile NetInterface?[] _byIndex = new NetInterface?[64];
    private long _lastReload = long.MinValue;

    public HostInterfaces(HostNetwork network, NetfilterEngine engine)
    {
        _network = network;
        _engine = engine;
        Reload();
    }

    /// <summary>The engine interface for a kernel ifindex; null when 0 or unknown even after a reload.</summary>
    public NetInterface? this[int ifindex]
    {
        get
        {
            if (ifindex <= 0) return null;
            var byIndex = _byIndex;
            if (ifindex < byIndex.Length && byIndex[ifindex] is { } known) return known;
            lock (_reloadLock)
            {
                if (Environment.TickCount64 - Volatile.Read(ref _lastReload) >= 1000) Reload();
            }
            byIndex = _byIndex;
            return ifindex < byIndex.Length ? byIndex[ifindex] : null;
        }
    }

    /// <summary>Re-reads interfaces, addresses, ip_forward and the default route, with the packet path paused. Not from within a packet's walk.</summary>
    public void Reload()
    {
        lock (_reloadLock)
        using (_engine.Pause())
            ReloadPaused();
    }

    private void ReloadPaused()
    {
        Volatile.Write(ref _lastReload, Environment.TickCount64);
        foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
        {
            int index = (int)if_nametoindex(nic.Name);
            if (index <= 0) continue;
            var mac = nic.GetPhysicalAddress().GetAddressBytes();
            var iface = _network.Add(nic.Name, mac.Length == 6 ? mac : default);
            if (!iface.IsLoopback)
            {
                iface.IPv4.Clear();
                iface.IPv6.Clear();
                foreach (var a in nic.GetIPProperties().UnicastAddresses)
                {
                    var bytes = a.Address.GetAddressBytes();
                    if (a.Address.AddressFamily == AddressFamily.InterNetwork)
                        iface.IPv4.Add((BinaryPrimitives.ReadUInt32BigEndian(bytes), a.PrefixLength));
                    else if (a.Address.AddressFamily == AddressFamily.InterNetworkV6)
                        iface.IPv6.Add((BinaryPrimitives.ReadUInt128BigEndian(bytes), a.PrefixLength));
                }
            }
            var byIndex = _byIndex;
            if (index >= byIndex.Length) Array.Resize(ref byIndex, Math.Max(index + 1, byIndex.Length * 2));
            byIndex[index] = iface;
            _byIndex = byIndex;
        }
        _network.Forwarding = ReadFirstLine("/proc/sys/net/ipv4/ip_forward") == "1";
        var route = DefaultRouteInterface();
        _network.DefaultRoute = route == null ? null : _network.Find(route);
    }

    /// <summary>
    /// The interface of the IPv4 default route (destination 00000000, mask 00000000), read from the
    /// calling thread's namespace (/proc/thread-self/net: /proc/net follows the main thread).
    /// </summary>
    private static string? DefaultRouteInterface()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/thread-self/net/route").Skip(1))
            {
                var f = line.Split('\t', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                if (f.Length > 7 && f[1] == "00000000" && f[7] == "00000000") return f[0];
            }
        }
        catch (IOException) { }
        return null;
    }

    private static string? ReadFirstLine(string path)
    {
        try { return File.ReadLines(path).FirstOrDefault()?.Trim(); }
        catch (IOException) { return null; }
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial uint if_nametoindex(string name);
}
