using System.Text;
using SharpTables.Rules.Extensions.XtOpt;
using SharpTables.Rules.Model;
using SharpTables.Rules.Parsing;

namespace SharpTables.Rules.Extensions.Recent;

/// <summary>The list operation of a recent match (xt_recent check_set bits).</summary>
[Flags]
public enum RecentFlags : byte
{
    None = 0,
    Check = 1 << 0,
    Set = 1 << 1,
    Update = 1 << 2,
    Remove = 1 << 3,
    /// <summary><c>--rttl</c>: the stored TTL must equal the packet's.</summary>
    Ttl = 1 << 4,
    /// <summary><c>--reap</c>: purge entries older than <c>--seconds</c>.</summary>
    Reap = 1 << 5,
}

/// <summary><c>-m recent</c> (libxt_recent revision 1 / xt_recent_mtinfo_v1).</summary>
public sealed class RecentExtension : XtOptMatchExtension
{
    public override string Name => "recent";

    internal const int OSet = 0, ORcheck = 1, OUpdate = 2, ORemove = 3, OSeconds = 4, OReap = 5, OHitcount = 6,
        ORttl = 7, OName = 8, ORsource = 9, ORdest = 10, OMask = 11;
    private const uint AnyOp = 1 << OSet | 1 << ORcheck | 1 << OUpdate | 1 << ORemove;

    public override IReadOnlyList<XtEntry> Entries { get; } =
    [
        new("set", OSet, HasArg: false) { Excl = AnyOp, Invert = true },
        new("rcheck", ORcheck, HasArg: false) { Excl = AnyOp, Invert = true },
        new("update", OUpdate, HasArg: false) { Excl = AnyOp, Invert = true },
        new("remove", ORemove, HasArg: false) { Excl = AnyOp, Invert = true },
        new("seconds", OSeconds),
        new("reap", OReap, HasArg: false) { Also = 1 << OSeconds },
        new("hitcount", OHitcount),
        new("rttl", ORttl, HasArg: false) { Excl = 1 << OSet | 1 << ORemove },
        new("name", OName),
        new("rsource", ORsource, HasArg: false),
        new("rdest", ORdest, HasArg: false),
        new("mask", OMask),
    ];

    public override MatchInstance Create() => new RecentMatch(this);
}

public sealed class RecentMatch(RecentExtension ext) : XtOptMatch
{
    /// <summary>XT_RECENT_NAME_LEN: the name buffer, so at most 199 characters are kept.</summary>
    public const int NameLength = 200;

    /// <summary>The kernel refuses hit counts from XT_RECENT_MAX_NSTAMPS (65536 since Linux 6.x) up.</summary>
    public const uint MaxStamps = 65536;

    public override Extension Extension => ext;

    /// <summary>The operation and modifiers (check_set).</summary>
    public RecentFlags Flags { get; private set; }
    /// <summary>The result of the match is inverted.</summary>
    public bool Invert { get; private set; }
    /// <summary>Only entries seen within this many seconds count (0 = no limit).</summary>
    public uint Seconds { get; private set; }
    /// <summary>At least this many hits are needed (0 = any).</summary>
    public uint HitCount { get; private set; }
    /// <summary>The list name (shared by all rules and visible as /proc/net/xt_recent/NAME).</summary>
    public string ListName { get; private set; } = "DEFAULT";
    /// <summary>Use the destination address instead of the source (<c>--rdest</c>).</summary>
    public bool Destination { get; private set; }
    /// <summary>Mask applied to the address before it is stored or looked up (IPv4: the low 32 bits of <see cref="Mask128"/>).</summary>
    public uint Mask => (uint)Mask128;
    /// <summary>The mask at full width: an IPv6 mask, or an IPv4 one in the low 32 bits.</summary>
    public UInt128 Mask128 { get; private set; } = UInt128.MaxValue;

    protected override void ParseEntry(XtEntry entry, string arg, bool invert, RuleContext ctx)
    {
        switch (entry.Id)
        {
            case RecentExtension.OSet: Op(RecentFlags.Set, invert); break;
            case RecentExtension.ORcheck: Op(RecentFlags.Check, invert); break;
            case RecentExtension.OUpdate: Op(RecentFlags.Update, invert); break;
            case RecentExtension.ORemove: Op(RecentFlags.Remove, invert); break;
            case RecentExtension.OSeconds:
                Seconds = (uint)ParseUInt32(entry.Name, arg, 1);
                break;
            case RecentExtension.OReap: Flags |= RecentFlags.Reap; break;
            case RecentExtension.OHitcount:
                HitCount = (uint)ParseUInt32(entry.Name, arg, 0);
                break;
            case RecentExtension.ORttl: Flags |= RecentFlags.Ttl; break;
            case RecentExtension.OName:
                ListName = arg.Length >= NameLength ? arg[..(NameLength - 1)] : arg;
                break;
            case RecentExtension.ORsource: Destination = false; break;
            case RecentExtension.ORdest: Destination = true; break;
            case RecentExtension.OMask:
                Mask128 = XtHost.ParseHost(Family, arg);
                break;
        }
    }

    private void Op(RecentFlags op, bool invert)
    {
        Flags |= op;
        if (invert) Invert = true;
    }

    private static ulong ParseUInt32(string option, string arg, ulong min)
    {
        if (!XtNum.StrToUL(arg, out ulong v, min, uint.MaxValue))
            throw Xt.BadValue("recent", option, min, uint.MaxValue);
        return v;
    }

    protected override void Check(RuleContext ctx)
    {
        const uint anyOp = 1 << RecentExtension.OSet | 1 << RecentExtension.ORcheck | 1 << RecentExtension.OUpdate | 1 << RecentExtension.ORemove;
        if ((XFlags & anyOp) == 0)
            throw Xt.Param("recent: you must specify one of `--set', `--rcheck' `--update' or `--remove'");
    }

    /// <summary>recent_mt_check: --set/--remove take no modifiers; the hit count and name have limits.</summary>
    public override string? CheckEntry(KernelCheckContext ctx)
    {
        if ((Flags & (RecentFlags.Set | RecentFlags.Remove)) != 0 &&
            (Seconds != 0 || HitCount != 0 || (Flags & (RecentFlags.Ttl | RecentFlags.Reap)) != 0))
            return "Invalid argument";
        if ((Flags & RecentFlags.Reap) != 0 && Seconds == 0) return "Invalid argument";
        if (HitCount >= MaxStamps) return "Invalid argument";
        if (ListName.Length == 0 || ListName is "." or ".." || ListName.Contains('/')) return "Invalid argument";
        return null;
    }

    public override void Save(StringBuilder sb)
    {
        if (Invert) sb.Append(" !");
        if ((Flags & RecentFlags.Set) != 0) sb.Append(" --set");
        if ((Flags & RecentFlags.Check) != 0) sb.Append(" --rcheck");
        if ((Flags & RecentFlags.Update) != 0) sb.Append(" --update");
        if ((Flags & RecentFlags.Remove) != 0) sb.Append(" --remove");
        if (Seconds != 0) sb.Append(" --seconds ").Append((int)Seconds);
        if ((Flags & RecentFlags.Reap) != 0) sb.Append(" --reap");
        if (HitCount != 0) sb.Append(" --hitcount ").Append((int)HitCount);
        if ((Flags & RecentFlags.Ttl) != 0) sb.Append(" --rttl");
        sb.Append(" --name ").Append(ListName);
        sb.Append(" --mask ").Append(InetText.Format(Family, Mask128));
        sb.Append(Destination ? " --rdest" : " --rsource");
    }

    public override void Print(StringBuilder sb, bool numeric)
    {
        if (Invert) sb.Append(" !");
        sb.Append(" recent:");
        if ((Flags & RecentFlags.Set) != 0) sb.Append(" SET");
        if ((Flags & RecentFlags.Check) != 0) sb.Append(" CHECK");
        if ((Flags & RecentFlags.Update) != 0) sb.Append(" UPDATE");
        if ((Flags & RecentFlags.Remove) != 0) sb.Append(" REMOVE");
        if (Seconds != 0) sb.Append(" seconds: ").Append((int)Seconds);
        if ((Flags & RecentFlags.Reap) != 0) sb.Append(" reap");
        if (HitCount != 0) sb.Append(" hit_count: ").Append((int)HitCount);
        if ((Flags & RecentFlags.Ttl) != 0) sb.Append(" TTL-Match");
        sb.Append(" name: ").Append(ListName);
        sb.Append(Destination ? " side: dest" : " side: source");
        sb.Append(" mask: ").Append(InetText.Format(Family, Mask128));
    }
}
