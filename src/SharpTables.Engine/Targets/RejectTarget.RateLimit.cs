using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SharpTables.Engine.Targets;

/// <summary>
/// The host's ICMP error rate limits (net/ipv4/icmp.c, net/ipv4/inetpeer.c), which decide whether
/// a REJECT answer is sent at all. Two token buckets, as kernel 6.18 applies them in __icmp_send:
/// <list type="bullet">
/// <item>a host-wide one (icmp_global_allow): <see cref="MessagesPerSecond"/> credits a second, at
/// most <see cref="MessagesBurst"/>, refilled no more often than every HZ/50 jiffies;</item>
/// <item>one per destination address (inet_peer_xrlim_allow): each message costs
/// <see cref="RateLimitJiffies"/> tokens, a jiffy earns one, and a bucket holds six messages'
/// worth; a new destination starts full.</item>
/// </list>
/// Only types in <see cref="RateMask"/> are limited (destination unreachable, source quench, time
/// exceeded and parameter problem by default), never "fragmentation needed", and nothing that
/// arrived on or is routed to the loopback device. One instance per <see cref="EngineState"/>
/// (<see cref="For"/>), shared by everything the host sends ICMP errors for. Time is the engine's
/// clock. Where the kernel draws random numbers the model takes the expected value: every message
/// costs one global credit (the kernel takes 0, 1 or 2). Thread safe: the buckets are updated
/// under one lock (the kernel uses atomics and the peer's own lock).
/// </summary>
public sealed class IcmpRateLimiter
{
    /// <summary>XRLIM_BURST_FACTOR: a destination's bucket holds six messages.</summary>
    private const int BurstFactor = 6;
    /// <summary>Destinations kept before idle ones (whose bucket has refilled) are forgotten.</summary>
    private const int PeerSweepThreshold = 4096;

    private static readonly ConditionalWeakTable<EngineState, IcmpRateLimiter> s_byState = new();

    private readonly EngineClock _clock;
    private readonly Lock _lock = new();
    private readonly Dictionary<UInt128, Peer> _peers4 = [];
    private readonly Dictionary<UInt128, Peer> _peers6 = [];
    private int _credit;
    private uint _stamp;
    private ushort _nextIpId = 1;

    /// <summary>An inet_peer's rate fields, which the ICMP error limit and the redirect limit share.</summary>
    private struct Peer
    {
        public ulong Tokens;
        public ulong Last;
        public int Redirects;
    }

    /// <summary>ip_rt_redirect_number: after this many unheeded redirects none are sent until the host is quiet.</summary>
    private const int RedirectNumber = 9;
    /// <summary>ip_rt_redirect_load (HZ/50): the n-th redirect waits load &lt;&lt; (n-1) after the previous one.</summary>
    private const ulong RedirectLoad = EngineClock.Hz / 50;
    /// <summary>ip_rt_redirect_silence: a quiet spell this long starts the count over.</summary>
    private const ulong RedirectSilence = RedirectLoad << (RedirectNumber + 1);

    private IcmpRateLimiter(EngineClock clock) => _clock = clock;

    /// <summary>The limiter of this host.</summary>
    public static IcmpRateLimiter For(EngineState state) => s_byState.GetValue(state, static s => new IcmpRateLimiter(s.Clock));

    /// <summary>net.ipv4.icmp_msgs_per_sec (default 1000).</summary>
    public int MessagesPerSecond { get; set; } = 1000;

    /// <summary>net.ipv4.icmp_msgs_burst (default 50).</summary>
    public int MessagesBurst { get; set; } = 50;

    /// <summary>net.ipv4.icmp_ratelimit in jiffies (default 1000 ms = HZ); 0 turns the per-destination limit off.</summary>
    public ulong RateLimitJiffies { get; set; } = EngineClock.Hz;

    /// <summary>net.ipv4.icmp_ratemask: bit n set = ICMP type n is limited (default 0x1818: types 3, 4, 11, 12).</summary>
    public uint RateMask { get; set; } = 0x1818;

    /// <summary>net.ipv6.icmp.ratelimit in jiffies (default 100 ms; no longer scaled by the route's prefix length).</summary>
    public ulong RateLimit6Jiffies { get; set; } = EngineClock.Hz / 10;

    /// <summary>net.ipv6.icmp.ratemask: ICMPv6 types below 128 are limited except 2 (packet too big); informational ones never.</summary>
    public Func<byte, bool> RateMask6 { get; set; } = static type => type < 128 && type != 2;

    /// <summary>icmpv6_global_allow: as <see cref="GlobalAllow"/>, with the IPv6 type mask; the credit is shared with IPv4.</summary>
    public bool GlobalAllow6(byte type, out bool limited)
    {
        limited = false;
        if (!RateMask6(type)) return true;
        if (!GlobalCredit()) return false;
        limited = true;
        return true;
    }

    /// <summary>icmpv6_xrlim_allow: the per-destination bucket of IPv6 errors (its own table, net->ipv6.peers).</summary>
    public bool PeerAllow6(UInt128 destination, bool loopbackRoute, bool limited)
    {
        if (!limited) return true;
        lock (_lock)
        {
            bool ok = RateLimit6Jiffies == 0 || loopbackRoute || PeerTokens(_peers6, destination, RateLimit6Jiffies);
            if (ok) _credit--;
            return ok;
        }
    }

    /// <summary>icmpv4_mask_allow: whether this type and code are exempt from both limits.</summary>
    private bool Exempt(byte type, byte code)
    {
        if (type > 18) return true;
        if (type == 3 && code == 4) return true; // path MTU discovery
        return (RateMask & (1u << type)) == 0;
    }

    /// <summary>
    /// icmpv4_global_allow, asked before the reply is built. <paramref name="limited"/> tells
    /// whether the per-destination limit applies afterwards (false for exempt types).
    /// </summary>
    public bool GlobalAllow(byte type, byte code, out bool limited)
    {
        limited = false;
        if (Exempt(type, code)) return true;
        if (!GlobalCredit()) return false;
        limited = true;
        return true;
    }

    /// <summary>icmp_global_allow: a credit is left, or enough time passed to earn some.</summary>
    private bool GlobalCredit()
    {
        lock (_lock)
        {
            if (_credit > 0) return true;
            uint now = _clock.Jiffies32;
            uint delta = Math.Min(now - _stamp, (uint)EngineClock.Hz);
            if (delta < EngineClock.Hz / 50) return false;
            int incr = (int)((ulong)MessagesPerSecond * delta / EngineClock.Hz);
            if (incr == 0) return false;
            _stamp = now;
            _credit = Math.Min(_credit + incr, MessagesBurst);
            return true;
        }
    }

    /// <summary>
    /// icmpv4_xrlim_allow for a reply to <paramref name="destination"/> (IPv4, host order in the low
    /// 32 bits). <paramref name="loopbackRoute"/>: the reply leaves through lo, which is never
    /// limited. A message that may go costs a global credit.
    /// </summary>
    public bool PeerAllow(UInt128 destination, bool loopbackRoute, bool limited)
    {
        if (!limited) return true;
        lock (_lock)
        {
            bool ok = RateLimitJiffies == 0 || loopbackRoute || PeerTokens(_peers4, destination, RateLimitJiffies);
            if (ok) _credit--;
            return ok;
        }
    }

    /// <summary>
    /// ip_rt_send_redirect's limit for a redirect to <paramref name="destination"/> (IPv4, host order in
    /// the low 32 bits); counts it when it may go. After a quiet spell the count starts over and the
    /// peer's ICMP tokens are emptied; the first redirect goes at once, the n-th only when 20 ms &lt;&lt;
    /// (n-1) passed since the previous one, none after 9 unheeded ones. Sending one resets the time the
    /// ICMP error limit counts tokens from, so a host just sent a redirect gets no ICMP error at once.
    /// </summary>
    public bool RedirectAllow(UInt128 destination)
    {
        lock (_lock)
        {
            ulong now = _clock.Jiffies;
            ref var peer = ref GetPeer(_peers4, destination, now, RateLimitJiffies);
            if (now > peer.Last + RedirectSilence)
            {
                peer.Tokens = 0;
                peer.Redirects = 0;
            }
            if (peer.Redirects >= RedirectNumber)
            {
                peer.Last = now;
                return false;
            }
            if (peer.Redirects != 0 && now <= peer.Last + (RedirectLoad << peer.Redirects)) return false;
            peer.Last = now;
            peer.Redirects++;
            return true;
        }
    }

    /// <summary>inet_getpeer: the destination's peer, created with an empty bucket last touched a minute ago.</summary>
    private static ref Peer GetPeer(Dictionary<UInt128, Peer> peers, UInt128 destination, ulong now, ulong timeout)
    {
        if (peers.Count >= PeerSweepThreshold) Sweep(peers, now, timeout);
        ref var peer = ref CollectionsMarshal.GetValueRefOrAddDefault(peers, destination, out bool exists);
        if (!exists)
        {
            // inet_getpeer: "60*HZ ... so that the first calculation of tokens is at its maximum"
            peer.Tokens = 0;
            peer.Last = now - 60 * EngineClock.Hz;
        }
        return ref peer;
    }

    /// <summary>inet_peer_xrlim_allow on the destination's bucket.</summary>
    private bool PeerTokens(Dictionary<UInt128, Peer> peers, UInt128 destination, ulong timeout)
    {
        ulong now = _clock.Jiffies;
        ref var peer = ref GetPeer(peers, destination, now, timeout);
        ulong token = peer.Tokens;
        ulong delta = now - peer.Last;
        if (delta != 0)
        {
            peer.Last = now;
            token = Math.Min(token + delta, BurstFactor * timeout);
        }
        bool rc = false;
        if (token >= timeout)
        {
            token -= timeout;
            rc = true;
        }
        peer.Tokens = token;
        return rc;
    }

    /// <summary>Forgets destinations whose bucket is full again: they behave exactly like new ones.</summary>
    private static void Sweep(Dictionary<UInt128, Peer> peers, ulong now, ulong timeout)
    {
        foreach (var (address, peer) in peers)
            if (now - peer.Last + peer.Tokens >= BurstFactor * timeout && now - peer.Last > RedirectSilence) peers.Remove(address);
    }

    /// <summary>
    /// The IP ID of the next ICMP error. The kernel draws it from a keyed hash of the addresses
    /// (ip_select_ident), unpredictable by design; the model counts up from 1.
    /// </summary>
    public ushort NextIpId()
    {
        lock (_lock) return _nextIpId++;
    }
}
