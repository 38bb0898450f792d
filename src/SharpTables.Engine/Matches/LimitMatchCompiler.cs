using SharpTables.Rules.Extensions.Limit;

namespace SharpTables.Engine.Matches;

/// <summary>
/// <c>-m limit</c>. iptables-nft (the reference backend) does not load xt_limit: it turns the
/// match into nft's native <c>limit rate R/UNIT burst B packets</c>, so the kernel code that runs
/// is nft_limit.c: a token bucket in nanoseconds whose cost per packet is UNIT/R and whose size
/// is B packets' worth. Each rule keeps its bucket across ruleset swaps (per-rule state).
/// </summary>
public sealed class LimitMatchCompiler : MatchCompiler<LimitMatch>
{
    protected override CompiledMatch Compile(LimitMatch match, CompileContext ctx)
    {
        var clock = ctx.State.Clock;
        var bucket = ctx.State.RuleStates.Get(ctx.Rule, ctx.MatchIndex,
            () => new LimitBucket(clock, match.Rate, match.UnitSeconds, match.Burst));
        return new CompiledLimitMatch(bucket);
    }
}

/// <summary>The state of one nft limit expression (struct nft_limit plus its nft_limit_priv_pkts).</summary>
public sealed class LimitBucket
{
    private const ulong NsPerSecond = 1_000_000_000;

    private readonly EngineClock _clock;
    private readonly Lock _lock = new();
    private ulong _last;
    private ulong _tokens;

    /// <summary>nft_limit_init + nft_limit_pkts_init: the bucket starts full at rule load time.</summary>
    public LimitBucket(EngineClock clock, ulong rate, ulong unitSeconds, uint burst)
    {
        _clock = clock;
        ulong nsecs = unitSeconds * NsPerSecond;
        Cost = nsecs / rate;
        TokensMax = Cost * (burst == 0 ? LimitMatch.DefaultBurst : burst);
        _tokens = TokensMax;
        _last = (ulong)clock.Nanoseconds;
    }

    /// <summary>Nanoseconds of credit one packet costs (unit / rate).</summary>
    public ulong Cost { get; }

    /// <summary>The bucket size in nanoseconds (cost × burst).</summary>
    public ulong TokensMax { get; }

    /// <summary>nft_limit_eval: true when the packet is within the limit (and its cost was taken).</summary>
    public bool TryTake()
    {
        lock (_lock)
        {
            ulong now = (ulong)_clock.Nanoseconds;
            ulong tokens = unchecked(_tokens + now - _last);
            if (tokens > TokensMax) tokens = TokensMax;
            _last = now;
            long delta = unchecked((long)(tokens - Cost));
            if (delta >= 0)
            {
                _tokens = (ulong)delta;
                return true;
            }
            _tokens = tokens;
            return false;
        }
    }
}

/// <summary>A compiled limit match: matches while its bucket has credit.</summary>
public sealed class CompiledLimitMatch(LimitBucket bucket) : CompiledMatch
{
    /// <summary>The rule's bucket.</summary>
    public LimitBucket Bucket { get; } = bucket;

    public override bool Matches(Packet p, ref bool hotdrop) => Bucket.TryTake();
}
