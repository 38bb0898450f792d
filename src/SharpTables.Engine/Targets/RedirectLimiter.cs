using System.Runtime.CompilerServices;

namespace SharpTables.Engine.Targets;

/// <summary>
/// ip_rt_send_redirect's own limits, per source host (inet_peer): after a quiet spell
/// (ip_rt_redirect_silence, 20 ms &lt;&lt; 10) the count starts over; the first redirect goes at
/// once, the n-th only when 20 ms &lt;&lt; (n-1) passed since the previous one, and after 9 unheeded
/// ones none until the host stays quiet.
/// </summary>
public sealed class RedirectLimiter
{
    private const int Number = 9;
    private const ulong Load = EngineClock.Hz / 50;
    private const ulong Silence = Load << (Number + 1);

    private static readonly ConditionalWeakTable<EngineState, RedirectLimiter> s_byState = new();

    private readonly EngineClock _clock;
    private readonly Lock _lock = new();
    private readonly Dictionary<uint, (ulong RateLast, int Count)> _peers = [];

    private RedirectLimiter(EngineClock clock) => _clock = clock;

    /// <summary>The limiter of an engine (one per set of engine state, as the kernel's per-namespace peers).</summary>
    public static RedirectLimiter For(EngineState state) => s_byState.GetValue(state, static s => new RedirectLimiter(s.Clock));

    /// <summary>Whether a redirect may go to <paramref name="source"/> now; counts it when it may.</summary>
    public bool Allow(uint source)
    {
        ulong now = _clock.Jiffies;
        lock (_lock)
        {
            var (last, n) = _peers.TryGetValue(source, out var peer) ? peer : (0UL, 0);
            if (n > 0 && now > last + Silence) n = 0;
            if (n >= Number)
            {
                _peers[source] = (now, n);
                return false;
            }
            if (n != 0 && now <= last + (Load << n)) return false;
            _peers[source] = (now, n + 1);
            return true;
        }
    }
}
