using SharpTables.Engine.State;
using SharpTables.Rules.Extensions.Recent;
using SharpTables.Rules.Model;

namespace SharpTables.Engine.Matches;

/// <summary><c>-m recent</c> (xt_recent.c, revision 1): compiling takes a reference to the named list.</summary>
public sealed class RecentMatchCompiler : MatchCompiler<RecentMatch>
{
    protected override CompiledMatch Compile(RecentMatch match, CompileContext ctx)
    {
        var recent = ctx.State.Recent;
        var table = recent.Acquire(match.ListName, match.Mask, match.HitCount);
        return new CompiledRecentMatch(recent, table, match, ctx.Family == Family.IPv6 ? (byte)6 : (byte)4);
    }
}

/// <summary>
/// A compiled recent match. It holds a reference to its list: dispose it when its ruleset is
/// retired (after the replacing ruleset was compiled) so that lists no rule uses disappear.
/// </summary>
public sealed class CompiledRecentMatch : CompiledMatch, IDisposable
{
    private readonly RecentTables _owner;
    private readonly RecentTable _table;
    private readonly RecentFlags _flags;
    private readonly bool _invert, _destination;
    private readonly uint _seconds, _hitCount;
    private readonly byte _family;
    private bool _disposed;

    internal CompiledRecentMatch(RecentTables owner, RecentTable table, RecentMatch m, byte family)
    {
        _owner = owner;
        _table = table;
        _flags = m.Flags;
        _invert = m.Invert;
        _destination = m.Destination;
        _seconds = m.Seconds;
        _hitCount = m.HitCount;
        _family = family;
    }

    /// <summary>The list this match uses.</summary>
    public RecentTable Table => _table;

    public override bool Matches(Packet p, ref bool hotdrop)
    {
        ref readonly var info = ref p.Info;
        var address = _destination ? info.Destination : info.Source;
        byte ttl = info.Ttl;
        // "use TTL as seen before forwarding": packets on their way out that no local socket sent.
        if (p.Out != null && !p.HasSocket) ttl = unchecked((byte)(ttl + 1));
        return _table.Match(_family, address, ttl, _flags, _invert, _seconds, _hitCount);
    }

    /// <summary>recent_mt_destroy: releases the list (once).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _owner.Release(_table);
    }
}
