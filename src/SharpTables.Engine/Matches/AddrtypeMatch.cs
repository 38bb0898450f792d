using SharpTables.Rules.Extensions.Addrtype;

namespace SharpTables.Engine.Matches;

/// <summary>
/// <c>-m addrtype</c> revision 1 (xt_addrtype). The route type of an address comes from the
/// host's interfaces (<see cref="HostNetwork"/>): the kernel's local routing table holds a LOCAL
/// route for every address (and for the whole prefix of lo) and a BROADCAST route for every
/// subnet broadcast address; an address it does not hold is UNICAST. BLACKHOLE, UNREACHABLE,
/// PROHIBIT and the other route types of user routes are not modelled.
/// </summary>
public sealed class AddrtypeMatchCompiler : MatchCompiler<AddrtypeMatch>
{
    protected override CompiledMatch Compile(AddrtypeMatch m, CompileContext ctx) => new Compiled(
        ctx.State.Network, (ushort)m.Source, m.InvertSource, (ushort)m.Dest, m.InvertDest, m.LimitIfaceIn, m.LimitIfaceOut);

    private sealed class Compiled(HostNetwork network, ushort source, bool invertSource, ushort dest, bool invertDest,
        bool limitIn, bool limitOut) : CompiledMatch
    {
        public override bool Matches(Packet p, ref bool hotdrop)
        {
            var dev = limitIn ? p.In : limitOut ? p.Out : null;
            // addrtype_mt_v1 without a device to limit to (e.g. --limit-iface-in at OUTPUT) looks at all of them.
            if (p.Info.IsIPv6)
            {
                if (source != 0 && (AddressTypes6.Matches(network, dev, p.Info.Source, source) == invertSource)) return false;
                if (dest != 0 && (AddressTypes6.Matches(network, dev, p.Info.Destination, dest) == invertDest)) return false;
                return true;
            }
            if (source != 0 && (((source >> RouteType4(network, dev, (uint)p.Info.Source)) & 1) != 0) == invertSource) return false;
            if (dest != 0 && (((dest >> RouteType4(network, dev, (uint)p.Info.Destination)) & 1) != 0) == invertDest) return false;
            return true;
        }
    }

    private const int RtnUnicast = 1, RtnLocal = 2, RtnBroadcast = 3, RtnMulticast = 5;

    /// <summary>
    /// inet_dev_addr_type: 0.0.0.0/8 and 255.255.255.255 are BROADCAST, 224/4 MULTICAST; otherwise
    /// the local table decides, but a route through another device than <paramref name="dev"/>
    /// counts as UNICAST.
    /// </summary>
    private static int RouteType4(HostNetwork network, NetInterface? dev, uint addr)
    {
        if ((addr >> 24) == 0 || addr == uint.MaxValue) return RtnBroadcast;
        if ((addr >> 28) == 0xE) return RtnMulticast;
        // Longest prefix first: the /32 LOCAL and BROADCAST routes, then lo's prefix route.
        NetInterface? prefixRouteDev = null;
        int prefixRouteLength = -1;
        var interfaces = network.Interfaces;
        for (int i = 0; i < interfaces.Count; i++)
        {
            var iface = interfaces[i];
            foreach (var (a, prefix) in iface.IPv4)
            {
                uint address = (uint)a;
                if (address == addr) return dev == null || dev == iface ? RtnLocal : RtnUnicast;
                uint mask = prefix == 0 ? 0 : uint.MaxValue << (32 - prefix);
                if (prefix < 31 && (address | ~mask) == addr) return dev == null || dev == iface ? RtnBroadcast : RtnUnicast;
                if (iface.IsLoopback && prefix > prefixRouteLength && (address & mask) == (addr & mask))
                {
                    prefixRouteDev = iface;
                    prefixRouteLength = prefix;
                }
            }
        }
        if (prefixRouteDev != null) return dev == null || dev == prefixRouteDev ? RtnLocal : RtnUnicast;
        return RtnUnicast;
    }

    /// <summary>xt_addrtype's match_type6 (IPv6 has no BROADCAST; refused at rule load).</summary>
    private static class AddressTypes6
    {
        private const ushort Unspec = 1 << 0, Unicast = 1 << 1, Local = 1 << 2, Anycast = 1 << 4, Multicast = 1 << 5,
            Unreachable = 1 << 7;

        public static bool Matches(HostNetwork network, NetInterface? dev, UInt128 addr, ushort mask)
        {
            bool multicast = (byte)(addr >> 120) == 0xFF;
            if ((mask & Multicast) != 0 && !multicast) return false;
            // ipv6_addr_type: everything but :: and multicast is some kind of unicast
            if ((mask & Unicast) != 0 && (multicast || addr == 0)) return false;
            if ((mask & Unspec) != 0 && addr != 0) return false;
            if ((mask & (Local | Anycast | Unreachable)) != 0) return (mask & LookupRoute(network, dev, addr, mask)) != 0;
            return true;
        }

        /// <summary>
        /// match_lookup_rt6, approximated: an address of the host is LOCAL (on <paramref name="dev"/>
        /// when limited to it); an address no route covers is UNREACHABLE. Anycast is not modelled.
        /// </summary>
        private static ushort LookupRoute(HostNetwork network, NetInterface? dev, UInt128 addr, ushort mask)
        {
            ushort ret = 0;
            if (dev != null && (mask & Local) != 0)
            {
                foreach (var (a, _) in dev.IPv6)
                    if (a == addr) ret = Local;
            }
            bool local = network.IsLocal(6, addr);
            if (!local && network.Route(6, addr) == null) return Unreachable;
            if (dev == null && local) ret |= Local;
            return ret;
        }
    }
}
