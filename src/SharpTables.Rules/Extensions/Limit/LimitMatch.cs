using System.Text;
using SharpTables.Rules.Extensions.XtOpt;
using SharpTables.Rules.Model;

namespace SharpTables.Rules.Extensions.Limit;

/// <summary>Rate arithmetic of libxt_limit (XT_LIMIT_SCALE units: 1/10000 s per packet).</summary>
public static class LimitRate
{
    /// <summary>XT_LIMIT_SCALE.</summary>
    public const uint Scale = 10000;

    private static readonly (string Name, uint Mult)[] s_rates =
    [
        ("day", Scale * 24 * 60 * 60), ("hour", Scale * 60 * 60), ("min", Scale * 60), ("sec", Scale),
    ];

    /// <summary>The unit (index into day/hour/min/sec) print_rate and iptables-nft pick for a period.</summary>
    private static int UnitIndex(uint period)
    {
        int i;
        for (i = 1; i < s_rates.Length; i++)
            if (period > s_rates[i].Mult || s_rates[i].Mult / period < s_rates[i].Mult % period)
                break;
        return i - 1;
    }

    /// <summary>print_rate: " N/unit" (or " inf" for a zero period).</summary>
    public static void Append(StringBuilder sb, uint period)
    {
        if (period == 0) { sb.Append(" inf"); return; }
        int i = UnitIndex(period);
        sb.Append(' ').Append(s_rates[i].Mult / period).Append('/').Append(s_rates[i].Name);
    }

    /// <summary>
    /// add_nft_limit: iptables-nft turns the period into an nft limit of RATE packets per UNIT
    /// seconds (<see cref="UnitIndex"/>'s unit), and reads it back as SCALE*UNIT/RATE.
    /// </summary>
    public static (ulong Rate, ulong UnitSeconds) ToNft(uint period)
    {
        int i = UnitIndex(period);
        return (s_rates[i].Mult / period, s_rates[i].Mult / Scale);
    }

    /// <summary>
    /// parse_rate: "N[/second|/minute|/hour|/day]" (any prefix of the unit, case-insensitive; N by atoi).
    /// Returns null for a malformed rate; throws "Rate too fast" when the period rounds to zero.
    /// </summary>
    public static uint? Parse(string rate)
    {
        uint mult = 1;
        int slash = rate.IndexOf('/');
        if (slash >= 0)
        {
            string unit = rate[(slash + 1)..];
            if (unit.Length == 0) return null;
            if (IsPrefix(unit, "second")) mult = 1;
            else if (IsPrefix(unit, "minute")) mult = 60;
            else if (IsPrefix(unit, "hour")) mult = 60 * 60;
            else if (IsPrefix(unit, "day")) mult = 24 * 60 * 60;
            else return null;
        }
        uint r = unchecked((uint)XtNum.Atoi(rate));
        if (r == 0) return null;
        uint val = Scale * mult / r;
        if (val == 0) throw Xt.Param($"Rate too fast \"{rate}\"");
        return val;
    }

    private static bool IsPrefix(string word, string name) =>
        word.Length <= name.Length && name.StartsWith(word, StringComparison.OrdinalIgnoreCase);
}

/// <summary>
/// <c>-m limit</c> (libxt_limit). iptables-nft does not use xt_limit: it emits nft's native
/// <c>limit rate N/unit burst B packets</c>, which is what the kernel keeps and lists.
/// </summary>
public sealed class LimitExtension : XtOptMatchExtension
{
    public override string Name => "limit";

    public override IReadOnlyList<XtEntry> Entries { get; } =
    [
        new("limit", 0),
        new("limit-burst", 1),
    ];

    public override MatchInstance Create() => new LimitMatch(this);
}

public sealed class LimitMatch(LimitExtension ext) : XtOptMatch
{
    /// <summary>XT_LIMIT_BURST, also nft's default when the burst is 0.</summary>
    public const uint DefaultBurst = 5;

    public override Extension Extension => ext;

    private uint _avg = LimitRate.Parse("3/hour")!.Value;
    private uint _burst = DefaultBurst;

    /// <summary>nft limit: packets allowed per <see cref="UnitSeconds"/>.</summary>
    public ulong Rate => LimitRate.ToNft(_avg).Rate;
    /// <summary>nft limit: the period in seconds (1, 60, 3600 or 86400).</summary>
    public ulong UnitSeconds => LimitRate.ToNft(_avg).UnitSeconds;
    /// <summary>xt_rateinfo.avg as the rule lists back: XT_LIMIT_SCALE * unit / rate (1/10000 s per packet).</summary>
    public uint Avg => (uint)(LimitRate.Scale * UnitSeconds / Rate);
    /// <summary>The bucket size in packets (nft substitutes 5 for 0).</summary>
    public uint Burst => _burst == 0 ? DefaultBurst : _burst;

    protected override void ParseEntry(XtEntry entry, string arg, bool invert, RuleContext ctx)
    {
        if (entry.Id == 0)
        {
            _avg = LimitRate.Parse(arg) ?? throw Xt.Param($"bad rate \"{arg}\"'");
        }
        else
        {
            if (!XtNum.StrToUL(arg, out ulong b, 0, 10000))
                throw Xt.BadValue("limit", "limit-burst", 0, 10000);
            _burst = (uint)b;
        }
    }

    public override void Save(StringBuilder sb)
    {
        sb.Append(" --limit");
        LimitRate.Append(sb, Avg);
        if (Burst != DefaultBurst) sb.Append(" --limit-burst ").Append(Burst);
    }

    public override void Print(StringBuilder sb, bool numeric)
    {
        sb.Append(" limit: avg");
        LimitRate.Append(sb, Avg);
        sb.Append(" burst ").Append(Burst);
    }
}
