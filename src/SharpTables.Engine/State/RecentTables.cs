namespace SharpTables.Engine.State;

/// <summary>
/// The xt_recent lists, by name. STUB: the recent work replaces this file. The lists outlive
/// ruleset swaps and can be read and edited like /proc/net/xt_recent/NAME.
/// </summary>
public sealed class RecentTables(EngineClock clock)
{
    public EngineClock Clock { get; } = clock;
}
