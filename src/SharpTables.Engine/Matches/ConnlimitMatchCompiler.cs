using SharpTables.Engine.State;
using SharpTables.Rules.Extensions.Connlimit;
using SharpTables.Rules.Model;

namespace SharpTables.Engine.Matches;

/// <summary>
/// <c>-m connlimit</c> (xt_connlimit.c over nf_conncount.c). Each rule counts in its own lists
/// (nf_conncount_init per rule), kept across ruleset swaps as per-rule state.
/// </summary>
public sealed class ConnlimitMatchCompiler : MatchCompiler<ConnlimitMatch>
{
    protected override CompiledMatch Compile(ConnlimitMatch match, CompileContext ctx)
    {
        var clock = ctx.State.Clock;
        var data = ctx.State.RuleStates.Get(ctx.Rule, ctx.MatchIndex, () => new ConnCount(clock, ctx.State.Conntrack));
        return new CompiledConnlimitMatch(data, match, ctx.Family);
    }
}

/// <summary>
/// A compiled connlimit match: the key is the source (or <c>--connlimit-daddr</c> destination)
/// address under <c>--connlimit-mask</c> plus the conntrack zone; the rule matches when the key's
/// connection count is above the limit (<c>--connlimit-above</c>) or at most it (<c>--connlimit-upto</c>).
/// A packet that cannot be counted is hot-dropped. The Rules model keeps only an IPv4 mask, so
/// IPv6 addresses are counted whole.
/// </summary>
public sealed class CompiledConnlimitMatch : CompiledMatch
{
    private readonly ConnCount _data;
    private readonly uint _limit, _mask;
    private readonly bool _upTo, _destination, _ipv6;

    internal CompiledConnlimitMatch(ConnCount data, ConnlimitMatch m, Family family)
    {
        _data = data;
        _limit = m.Limit;
        _mask = m.Mask;
        _upTo = m.UpTo;
        _destination = m.ByDestination;
        _ipv6 = family == Family.IPv6;
    }

    /// <summary>The rule's connection lists.</summary>
    public ConnCount Data => _data;

    public override bool Matches(Packet p, ref bool hotdrop)
    {
        var address = _destination ? p.Info.Destination : p.Info.Source;
        if (!_ipv6) address &= _mask;
        uint connections = _data.Count(p, address);
        if (connections == 0)
        {
            hotdrop = true;
            return false;
        }
        return (connections > _limit) ^ _upTo;
    }
}
