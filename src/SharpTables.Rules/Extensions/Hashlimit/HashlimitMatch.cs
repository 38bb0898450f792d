using System.Text;
using SharpTables.Rules.Extensions.XtOpt;
using SharpTables.Rules.Model;

namespace SharpTables.Rules.Extensions.Hashlimit;

/// <summary>hashlimit_cfg3.mode bits.</summary>
[Flags]
public enum HashlimitMode : uint
{
    None = 0,
    DestinationIp = 1 << 0,
    DestinationPort = 1 << 1,
    SourceIp = 1 << 2,
    SourcePort = 1 << 3,
    /// <summary>Match above the rate (<c>--hashlimit-above</c>) instead of up to it.</summary>
    Invert = 1 << 4,
    /// <summary>The rate is in bytes (<c>Nb/s</c>, <c>Nkb/s</c>, <c>Nmb/s</c>).</summary>
    Bytes = 1 << 5,
    /// <summary><c>--hashlimit-rate-match</c>: measure the flow's rate instead of limiting it.</summary>
    RateMatch = 1 << 6,
}

/// <summary><c>-m hashlimit</c> (libxt_hashlimit revision 3 / xt_hashlimit_mtinfo3).</summary>
public sealed class HashlimitExtension : XtOptMatchExtension
{
    public override string Name => "hashlimit";

    internal const int OUpto = 0, OAbove = 1, OLimit = 2, OMode = 3, OSrcMask = 4, ODstMask = 5, OName = 6, OBurst = 7,
        OSize = 8, OMax = 9, OGcInt = 10, OExpire = 11, ORateMatch = 12, OInterval = 13;

    public override IReadOnlyList<XtEntry> Entries { get; } =
    [
        new("hashlimit-upto", OUpto) { Excl = 1 << OAbove, Invert = true },
        new("hashlimit-above", OAbove) { Excl = 1 << OUpto, Invert = true },
        new("hashlimit", OUpto) { Excl = 1 << OAbove, Invert = true },
        new("hashlimit-srcmask", OSrcMask),
        new("hashlimit-dstmask", ODstMask),
        new("hashlimit-burst", OBurst),
        new("hashlimit-htable-size", OSize),
        new("hashlimit-htable-max", OMax),
        new("hashlimit-htable-gcinterval", OGcInt),
        new("hashlimit-htable-expire", OExpire),
        new("hashlimit-mode", OMode),
        new("hashlimit-name", OName) { Mandatory = true },
        new("hashlimit-rate-match", ORateMatch, HasArg: false),
        new("hashlimit-rate-interval", OInterval),
    ];

    public override MatchInstance Create() => new HashlimitMatch(this);
}

public sealed class HashlimitMatch(HashlimitExtension ext) : XtOptMatch
{
    /// <summary>XT_HASHLIMIT_SCALE_v2: avg is in microseconds per packet.</summary>
    public const ulong Scale = 1_000_000;
    public const ulong DefaultBurst = 5;
    /// <summary>XT_HASHLIMIT_GCINTERVAL (ms).</summary>
    public const uint DefaultGcInterval = 1000;
    /// <summary>HASHLIMIT_MAX_SIZE: the kernel caps htable-size and htable-max to this.</summary>
    public const uint MaxSize = 1_048_576;
    /// <summary>NAME_MAX: the name buffer, so at most 254 characters are kept.</summary>
    public const int NameLength = 255;
    /// <summary>The kernel's HZ where the reference results were taken (CONFIG_HZ=250); it decides the overflow checks.</summary>
    public const ulong Hz = 250;

    private const int ByteShift = 4;
    private const uint ByteExpire = 15, ByteExpireBurst = 60;

    public override Extension Extension => ext;

    public HashlimitMode Mode { get; private set; }
    /// <summary>Microseconds per packet (packet mode) or the per-byte cost (byte mode).</summary>
    public ulong Avg { get; private set; }
    /// <summary>Bucket size in packets (byte mode: in units of the rate's bytes, 0 = none).</summary>
    public ulong Burst { get; private set; } = DefaultBurst;
    /// <summary>Hash buckets (0 = kernel's choice).</summary>
    public uint Size { get; private set; }
    /// <summary>Maximum entries (0 = kernel's choice).</summary>
    public uint Max { get; private set; }
    /// <summary>Garbage collection interval in ms.</summary>
    public uint GcInterval { get; private set; } = DefaultGcInterval;
    /// <summary>Idle entries expire after this many ms.</summary>
    public uint Expire { get; private set; }
    /// <summary>Rate-match interval in seconds (0 = unset).</summary>
    public uint Interval { get; private set; }
    /// <summary>Prefix lengths the addresses are grouped by (default: the whole address, 32 or 128).</summary>
    public byte SourceMask => _srcMask ?? FullLength;
    public byte DestinationMask => _dstMask ?? FullLength;

    private byte? _srcMask, _dstMask;

    /// <summary>The address length of the rule's family: the default mask and the kernel's limit.</summary>
    private byte FullLength => Family == Family.IPv6 ? (byte)128 : (byte)32;
    /// <summary>The hash table's name (/proc/net/ipt_hashlimit/NAME), shared by rules using it.</summary>
    public string TableName { get; private set; } = "";

    /// <summary>Seconds per rate unit of the last rate given (the C extension's udata->mult).</summary>
    private uint _mult = 1;

    protected override void ParseEntry(XtEntry entry, string arg, bool invert, RuleContext ctx)
    {
        switch (entry.Id)
        {
            case HashlimitExtension.OBurst:
                Burst = ParseBurst(arg);
                break;
            case HashlimitExtension.OUpto:
            case HashlimitExtension.OAbove:
            {
                bool above = entry.Id == HashlimitExtension.OAbove;
                if (above != invert) Mode |= HashlimitMode.Invert;
                if (ParseBytes(arg) is { } cost)
                {
                    Avg = cost;
                    Mode |= HashlimitMode.Bytes;
                }
                else
                {
                    Avg = ParseRate(arg) ?? throw BadValue("hashlimit", above ? "--hashlimit-above" : "--hashlimit-upto", arg);
                }
                break;
            }
            case HashlimitExtension.OMode:
                Mode |= ParseMode(arg) ?? throw BadValue("hashlimit", "--hashlimit-mode", arg);
                break;
            case HashlimitExtension.OSrcMask:
                _srcMask = (byte)XtHost.ParsePlen("hashlimit", entry.Name, arg, Family);
                break;
            case HashlimitExtension.ODstMask:
                _dstMask = (byte)XtHost.ParsePlen("hashlimit", entry.Name, arg, Family);
                break;
            case HashlimitExtension.OSize: Size = UInt32(entry.Name, arg); break;
            case HashlimitExtension.OMax: Max = UInt32(entry.Name, arg); break;
            case HashlimitExtension.OGcInt: GcInterval = UInt32(entry.Name, arg); break;
            case HashlimitExtension.OExpire: Expire = UInt32(entry.Name, arg); break;
            case HashlimitExtension.OName:
                if (arg.Length < 1) throw Xt.Param("Argument must have a minimum length of 1 characters\n");
                TableName = arg.Length >= NameLength ? arg[..(NameLength - 1)] : arg;
                break;
            case HashlimitExtension.ORateMatch:
                Mode |= HashlimitMode.RateMatch;
                break;
            case HashlimitExtension.OInterval:
            {
                int r = XtNum.Atoi(arg);
                if (r <= 0) throw BadValue("hashlimit", "--hashlimit-rate-interval", arg);
                Interval = (uint)r;
                break;
            }
        }
    }

    private static uint UInt32(string option, string arg) =>
        XtNum.StrToUL(arg, out ulong v, 0, uint.MaxValue) ? (uint)v : throw Xt.BadValue("hashlimit", option, 0, uint.MaxValue);

    private static ulong Factor(char c) => c switch { 'm' => 1024 * 1024, 'k' => 1024, _ => 1 };

    /// <summary>parse_burst (revision 2+): a number 1-1000000, optionally scaled by a k/m suffix.</summary>
    private static ulong ParseBurst(string arg)
    {
        XtablesException Error() => Xt.Param("bad value for option \"--hashlimit-burst\", or out of range (1-1000000).");
        if (!XtNum.StrToUL(arg, 0, out ulong v, out int end, 1, ulong.MaxValue)) throw Error();
        if (end == arg.Length && v > 1_000_000) throw Error();
        return unchecked(v * Factor(end < arg.Length ? arg[end] : '\0'));
    }

    /// <summary>bytes_to_cost.</summary>
    private static ulong BytesToCost(ulong bytes)
    {
        uint r = unchecked((uint)(bytes >> ByteShift) + 1);
        return r == 0 ? 0 : uint.MaxValue / r;
    }

    /// <summary>cost_to_bytes.</summary>
    private static ulong CostToBytes(ulong cost)
    {
        ulong r = cost != 0 ? uint.MaxValue / cost : uint.MaxValue;
        return unchecked((r - 1) << ByteShift);
    }

    /// <summary>parse_bytes: "N[k|m]b/s" to a per-byte cost; null when the text is not a byte rate.</summary>
    private ulong? ParseBytes(string rate)
    {
        int at = rate.IndexOf("b/s", StringComparison.Ordinal);
        if (at <= 0) return null;
        ulong r = unchecked((ulong)XtNum.Atoll(rate));
        if (r == 0) return null;
        ulong cost = BytesToCost(unchecked(r * Factor(rate[at - 1])));
        if (cost == 0) throw Xt.Param($"Rate too high \"{rate}\"");
        _mult = ByteExpire;
        return cost;
    }

    /// <summary>parse_rate (revision 2+): packets per second/minute/hour/day to microseconds per packet.</summary>
    private ulong? ParseRate(string rate)
    {
        _mult = 1;
        int slash = rate.IndexOf('/');
        if (slash >= 0)
        {
            string unit = rate[(slash + 1)..];
            if (unit.Length == 0) return null;
            if (IsPrefix(unit, "second")) _mult = 1;
            else if (IsPrefix(unit, "minute")) _mult = 60;
            else if (IsPrefix(unit, "hour")) _mult = 60 * 60;
            else if (IsPrefix(unit, "day")) _mult = 24 * 60 * 60;
            else return null;
        }
        ulong r = unchecked((ulong)XtNum.Atoll(rate));
        if (r == 0) return null;
        ulong tmp = Scale * _mult / r;
        if (tmp == 0) throw Xt.Param($"Rate too fast \"{rate}\"");
        return tmp;
    }

    private static bool IsPrefix(string word, string name) =>
        word.Length <= name.Length && name.StartsWith(word, StringComparison.OrdinalIgnoreCase);

    /// <summary>parse_mode: words separated by ',' or '|'.</summary>
    private static HashlimitMode? ParseMode(string arg)
    {
        var mode = HashlimitMode.None;
        foreach (var word in arg.Split([',', '|'], StringSplitOptions.RemoveEmptyEntries))
        {
            switch (word)
            {
                case "dstip": mode |= HashlimitMode.DestinationIp; break;
                case "srcip": mode |= HashlimitMode.SourceIp; break;
                case "srcport": mode |= HashlimitMode.SourcePort; break;
                case "dstport": mode |= HashlimitMode.DestinationPort; break;
                default: return null;
            }
        }
        return mode;
    }

    protected override void Check(RuleContext ctx)
    {
        if ((XFlags & (1 << HashlimitExtension.OUpto | 1 << HashlimitExtension.OAbove)) == 0)
            throw Xt.Param("You have to specify --hashlimit");
        bool expireGiven = Given(HashlimitExtension.OExpire);
        if (!expireGiven) Expire = _mult * 1000;
        if ((Mode & HashlimitMode.Bytes) != 0)
        {
            uint burst = 0;
            if (Given(HashlimitExtension.OBurst))
            {
                ulong unit = CostToBytes(Avg);
                if (Burst < unit) throw Xt.Param($"burst cannot be smaller than {unit}b");
                // A rate below 16 bytes/s makes the unit 0 and libxt_hashlimit divides by it:
                // iptables dies of SIGFPE (the shell reports status 128+8).
                if (unit == 0) throw new XtablesException((XtablesExit)136, "Floating point exception", ErrorStyle.Plain);
                burst = (uint)((ulong)(uint)Burst / unit);
                if (Burst % unit != 0) burst++;
                if (!expireGiven) Expire = ByteExpireBurst * 1000;
            }
            Burst = burst;
        }
        else if (Burst > 1_000_000)
        {
            throw Xt.Param("bad value for option \"--hashlimit-burst\", or out of range (1-1000000).");
        }
        if (Given(HashlimitExtension.ORateMatch))
        {
            if ((Mode & HashlimitMode.Bytes) == 0) Avg /= _mult;
            if (Interval == 0) Interval = (Mode & HashlimitMode.Bytes) != 0 ? 1 : _mult;
        }
        // hashlimit_mt_check_common caps the table sizes in the rule itself, so they list back capped.
        if (Size > MaxSize) Size = MaxSize;
        if (Max > MaxSize) Max = MaxSize;
    }

    /// <summary>The kernel's credit arithmetic for revision 3 at <see cref="Hz"/> (user2credits).</summary>
    private static ulong UserToCredits(ulong user)
    {
        ulong maxCpj = ulong.MaxValue / (Hz * 60 * 60 * 24);
        ulong cpj = 1UL << (63 - System.Numerics.BitOperations.LeadingZeroCount(maxCpj));
        ulong hzCpj = Hz * cpj;
        return Scale >= hzCpj ? user / (Scale / hzCpj) : unchecked(user * (hzCpj / Scale));
    }

    /// <summary>user2credits_byte.</summary>
    private static uint UserToCreditsByte(uint user)
    {
        ulong maxCpjBytes = uint.MaxValue / Hz;
        ulong cpjBytes = 1UL << (63 - System.Numerics.BitOperations.LeadingZeroCount(maxCpjBytes));
        ulong us = (ulong)user * (uint)(Hz * cpjBytes);
        return (uint)(us >> 32);
    }

    /// <summary>hashlimit_mt_check and hashlimit_mt_check_common.</summary>
    public override string? CheckEntry(KernelCheckContext ctx)
    {
        if (TableName is "." or ".." || TableName.Contains('/')) return "Invalid argument";
        if (GcInterval == 0 || Expire == 0) return "Invalid argument";
        if (SourceMask > FullLength || DestinationMask > FullLength) return "Invalid argument";
        if ((Mode & HashlimitMode.RateMatch) != 0)
        {
            if (Avg == 0 || Avg > uint.MaxValue) return "Numerical result out of range";
            if (Interval == 0) return "Invalid argument";
        }
        else if ((Mode & HashlimitMode.Bytes) != 0)
        {
            if (UserToCreditsByte(unchecked((uint)Avg)) == 0) return "Invalid argument";
        }
        else if (Burst == 0 || UserToCredits(unchecked(Avg * Burst)) < UserToCredits(Avg))
        {
            return "Numerical result out of range";
        }
        return null;
    }

    private static readonly (string Name, ulong Mult)[] s_rates =
    [
        ("day", Scale * 24 * 60 * 60), ("hour", Scale * 60 * 60), ("min", Scale * 60), ("sec", Scale),
    ];

    /// <summary>print_rate: " N/unit"; returns the unit in ms (the default expiry for it).</summary>
    private static ulong AppendRate(StringBuilder sb, ulong period)
    {
        if (period == 0) { sb.Append(" inf"); return 0; }
        int i;
        for (i = 1; i < s_rates.Length; i++)
            if (period > s_rates[i].Mult || s_rates[i].Mult / period < s_rates[i].Mult % period)
                break;
        sb.Append(' ').Append(s_rates[i - 1].Mult / period).Append('/').Append(s_rates[i - 1].Name);
        return s_rates[i - 1].Mult / Scale * 1000;
    }

    private static readonly (string Name, uint Threshold)[] s_units = [("m", 1024 * 1024), ("k", 1024), ("", 1)];

    /// <summary>print_bytes: " Nkb/s" and, with a burst, " PREFIXburst Nkb"; returns the default expiry.</summary>
    private static ulong AppendBytes(StringBuilder sb, ulong avg, ulong burst, string prefix)
    {
        ulong r = CostToBytes(avg);
        int i;
        for (i = 0; i < s_units.Length - 1; i++)
            if (r >= s_units[i].Threshold && BytesToCost(r & (ulong)~(s_units[i].Threshold - 1)) == avg)
                break;
        sb.Append(' ').Append(r / s_units[i].Threshold).Append(s_units[i].Name).Append("b/s");
        if (burst == 0) return ByteExpire * 1000;
        r = unchecked(r * burst);
        sb.Append(' ').Append(prefix);
        for (i = 0; i < s_units.Length - 1; i++)
            if (r >= s_units[i].Threshold) break;
        sb.Append("burst ").Append(r / s_units[i].Threshold).Append(s_units[i].Name).Append('b');
        return ByteExpireBurst * 1000;
    }

    private void AppendMode(StringBuilder sb, char separator)
    {
        sb.Append(' ');
        bool prev = false;
        foreach (var (flag, name) in (ReadOnlySpan<(HashlimitMode, string)>)
                 [(HashlimitMode.SourceIp, "srcip"), (HashlimitMode.SourcePort, "srcport"),
                  (HashlimitMode.DestinationIp, "dstip"), (HashlimitMode.DestinationPort, "dstport")])
        {
            if ((Mode & flag) == 0) continue;
            if (prev) sb.Append(separator);
            sb.Append(name);
            prev = true;
        }
    }

    private const HashlimitMode HashBits = HashlimitMode.SourceIp | HashlimitMode.SourcePort |
                                           HashlimitMode.DestinationIp | HashlimitMode.DestinationPort;

    public override void Save(StringBuilder sb)
    {
        sb.Append((Mode & HashlimitMode.Invert) != 0 ? " --hashlimit-above" : " --hashlimit-upto");
        ulong quantum;
        if ((Mode & HashlimitMode.Bytes) != 0)
        {
            quantum = AppendBytes(sb, Avg, Burst, "--hashlimit-");
        }
        else
        {
            quantum = AppendRate(sb, Avg);
            sb.Append(" --hashlimit-burst ").Append(Burst);
        }
        if ((Mode & HashBits) != 0)
        {
            sb.Append(" --hashlimit-mode");
            AppendMode(sb, ',');
        }
        sb.Append(" --hashlimit-name ").Append(TableName);
        if (Size != 0) sb.Append(" --hashlimit-htable-size ").Append(Size);
        if (Max != 0) sb.Append(" --hashlimit-htable-max ").Append(Max);
        if (GcInterval != DefaultGcInterval) sb.Append(" --hashlimit-htable-gcinterval ").Append(GcInterval);
        if (Expire != quantum) sb.Append(" --hashlimit-htable-expire ").Append(Expire);
        if (SourceMask != FullLength) sb.Append(" --hashlimit-srcmask ").Append(SourceMask);
        if (DestinationMask != FullLength) sb.Append(" --hashlimit-dstmask ").Append(DestinationMask);
        if ((Mode & HashlimitMode.RateMatch) != 0)
        {
            sb.Append(" --hashlimit-rate-match");
            if (Interval != 1) sb.Append(" --hashlimit-rate-interval ").Append(Interval);
        }
    }

    public override void Print(StringBuilder sb, bool numeric)
    {
        sb.Append((Mode & HashlimitMode.Invert) != 0 ? " limit: above" : " limit: up to");
        ulong quantum;
        if ((Mode & HashlimitMode.Bytes) != 0)
        {
            quantum = AppendBytes(sb, Avg, Burst, "");
        }
        else
        {
            ulong period = Avg;
            if (Interval != 0) period = unchecked(period * Interval);
            quantum = AppendRate(sb, period);
            sb.Append(" burst ").Append(Burst);
        }
        if ((Mode & HashBits) != 0)
        {
            sb.Append(" mode");
            AppendMode(sb, '-');
        }
        if (Size != 0) sb.Append(" htable-size ").Append(Size);
        if (Max != 0) sb.Append(" htable-max ").Append(Max);
        if (GcInterval != DefaultGcInterval) sb.Append(" htable-gcinterval ").Append(GcInterval);
        if (Expire != quantum) sb.Append(" htable-expire ").Append(Expire);
        if (SourceMask != FullLength) sb.Append(" srcmask ").Append(SourceMask);
        if (DestinationMask != FullLength) sb.Append(" dstmask ").Append(DestinationMask);
        if ((Mode & HashlimitMode.RateMatch) != 0)
        {
            sb.Append(" rate-match");
            if (Interval != 1) sb.Append(" rate-interval ").Append(Interval);
        }
    }
}
