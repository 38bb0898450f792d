namespace SharpTables.Engine;

/// <summary>
/// Kernel time for the engine: jiffies at this kernel's HZ (250), derived from an injected
/// <see cref="TimeProvider"/> so a run is reproducible. Like the kernel, jiffies start at
/// INITIAL_JIFFIES (-300 s, as a 32-bit value) so wrap-around bugs show early; the 64-bit
/// value is what <c>/proc/net/xt_recent</c> prints.
/// </summary>
public sealed class EngineClock
{
    public const int Hz = 250;
    /// <summary>The kernel's INITIAL_JIFFIES for 64-bit jiffies: (u64)(u32)(-300*HZ).</summary>
    public const ulong InitialJiffies = (ulong)unchecked((uint)(-300 * Hz));

    private readonly TimeProvider _time;
    private readonly long _start;
    private readonly ulong _bootJiffies;

    /// <param name="time">The time source; <see cref="TimeProvider.System"/> for live use, a manual one in tests.</param>
    /// <param name="bootJiffies">Jiffies at the moment the clock is created (default INITIAL_JIFFIES, i.e. "just booted").</param>
    /// <param name="phase">
    /// How far into its first jiffy the clock is created (0 to one jiffy, 4 ms): where the jiffy
    /// boundaries fall relative to the time source. A kernel's is arbitrary, and code that counts
    /// whole jiffies (the ICMP redirect back-off) can decide differently for the same packet times.
    /// </param>
    public EngineClock(TimeProvider time, ulong bootJiffies = InitialJiffies, TimeSpan phase = default)
    {
        if (phase < TimeSpan.Zero || phase >= TimeSpan.FromTicks(TimeSpan.TicksPerSecond / Hz))
            throw new ArgumentOutOfRangeException(nameof(phase), "the phase lies within one jiffy");
        _time = time;
        _start = time.GetTimestamp() - (long)((Int128)phase.Ticks * time.TimestampFrequency / TimeSpan.TicksPerSecond);
        _bootJiffies = bootJiffies;
    }

    public TimeProvider Time => _time;

    /// <summary>Current jiffies (64-bit). Allocation free.</summary>
    public ulong Jiffies
    {
        get
        {
            long ticks = _time.GetTimestamp() - _start;
            // elapsed * HZ / frequency, without overflow for any realistic run.
            var j = (UInt128)(ulong)ticks * Hz / (ulong)_time.TimestampFrequency;
            return _bootJiffies + (ulong)j;
        }
    }

    /// <summary>The low 32 bits, which is what 32-bit kernel fields (e.g. conntrack timeouts) compare.</summary>
    public uint Jiffies32 => (uint)Jiffies;

    /// <summary>Nanoseconds since the clock was created (ktime for hashlimit-style code).</summary>
    public long Nanoseconds
    {
        get
        {
            long ticks = _time.GetTimestamp() - _start;
            return (long)((Int128)ticks * 1_000_000_000 / _time.TimestampFrequency);
        }
    }

    /// <summary>The wall clock (for LOG timestamps and event files).</summary>
    public DateTimeOffset UtcNow => _time.GetUtcNow();
}

/// <summary>A clock the test or simulator moves by hand.</summary>
public sealed class ManualTime : TimeProvider
{
    private long _ticks;
    private DateTimeOffset _wall;

    public ManualTime(DateTimeOffset? start = null) => _wall = start ?? new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;
    public override long GetTimestamp() => _ticks;
    public override DateTimeOffset GetUtcNow() => _wall;

    public void Advance(TimeSpan by)
    {
        if (by < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(by), "time does not go backwards");
        _ticks += by.Ticks;
        _wall += by;
    }

    public void AdvanceMilliseconds(double ms) => Advance(TimeSpan.FromTicks((long)Math.Round(ms * TimeSpan.TicksPerMillisecond)));
}
