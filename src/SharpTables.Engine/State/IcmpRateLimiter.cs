namespace SharpTables.Engine.State;

/// <summary>
/// The kernel's per-destination ICMP error rate limit (icmpv4_xrlim_allow → inet_peer_xrlim_allow):
/// a token bucket per peer address that refills one token per jiffy up to six times
/// net.ipv4.icmp_ratelimit (1000 ms), spending icmp_ratelimit per error; so a burst of six
/// errors, then one per second. Only the types in net.ipv4.icmp_ratemask (destination
/// unreachable, source quench, time exceeded, parameter problem) are limited, and never
/// towards a loopback route. Used for REJECT replies and the host model's own errors alike.
/// </summary>
public sealed class IcmpRateLimiter(EngineClock clock)
{
    /// <summary>net.ipv4.icmp_ratelimit in jiffies (1000 ms at HZ 250).</summary>
    public const ulong RateLimitJiffies = EngineClock.Hz;
    private const ulong BurstFactor = 6;
    /// <summary>net.ipv4.icmp_ratemask default 0x1818: types 3, 4, 11, 12.</summary>
    private const uint RateMask = 0x1818;

    private readonly Dictionary<(byte, UInt128), (ulong Tokens, ulong Last)> _peers = new();
    private readonly Lock _lock = new();

    /// <summary>Whether an ICMP error of <paramref name="type"/> may be sent to <paramref name="destination"/> now (and spends a token if so).</summary>
    public bool Allow(byte version, UInt128 destination, byte type, bool loopbackRoute)
    {
        if (loopbackRoute) return true;
        if (version == 4 && (type > 31 || (RateMask & (1u << type)) == 0)) return true;
        // ICMPv6: informational messages (type >= 128) and packet-too-big are not limited.
        if (version == 6 && (type >= 128 || type == 2)) return true;
        lock (_lock)
        {
            ulong now = clock.Jiffies;
            // A new inet_peer starts with rate_last = 0, i.e. a full bucket.
            var (tokens, last) = _peers.TryGetValue((version, destination), out var s) ? s : (0UL, 0UL);
            tokens += now - last;
            if (tokens > BurstFactor * RateLimitJiffies) tokens = BurstFactor * RateLimitJiffies;
            bool ok = false;
            if (tokens >= RateLimitJiffies)
            {
                tokens -= RateLimitJiffies;
                ok = true;
            }
            _peers[(version, destination)] = (tokens, now);
            return ok;
        }
    }
}
