using System.Text;

namespace SharpTables.Rules.Extensions.Ct;

/// <summary>The kernel's XT_CT_* flags.</summary>
[Flags]
public enum CtFlags : ushort
{
    None = 0,
    NoTrack = 0x01,
    /// <summary>Set by <c>-j NOTRACK</c> (an alias of <c>CT --notrack</c>) so it prints back as NOTRACK.</summary>
    NoTrackAlias = 0x02,
    ZoneDirOrig = 0x04,
    ZoneDirReply = 0x08,
    ZoneMark = 0x10,
}

/// <summary>Conntrack events (the kernel's IPCT_* bit numbers).</summary>
[Flags]
public enum CtEvents : uint
{
    None = 0,
    New = 1 << 0, Related = 1 << 1, Destroy = 1 << 2, Reply = 1 << 3, Assured = 1 << 4, ProtoInfo = 1 << 5,
    Helper = 1 << 6, Mark = 1 << 7, NatSeqInfo = 1 << 8, SecMark = 1 << 9,
}

/// <summary>Expectation events (IPEXP_*).</summary>
[Flags]
public enum CtExpEvents : uint { None = 0, New = 1 << 0 }

/// <summary><c>-j CT</c> (libxt_CT revision 2 / xt_CT): set up the conntrack entry of new connections.</summary>
public sealed class CtExtension : TargetExtension
{
    public override string Name => "CT";

    public override IReadOnlyList<OptionDef> Options { get; } =
    [
        new("notrack", ArgKind.None),
        new("helper"),
        new("timeout"),
        new("ctevents"),
        new("expevents"),
        new("zone-orig"),
        new("zone-reply"),
        new("zone"),
    ];

    public override TargetInstance Create() => new CtTarget(this, CtFlags.None);
}

/// <summary>
/// <c>-j NOTRACK</c>: iptables turns it into the CT target with the notrack flags, so the kernel
/// (and <c>-L</c>'s target column) knows it as CT while save writes NOTRACK again.
/// </summary>
public sealed class NotrackExtension : TargetExtension
{
    public override string Name => "NOTRACK";
    public override IReadOnlyList<OptionDef> Options => [];
    public override TargetInstance Create() => new CtTarget(this, CtFlags.NoTrack | CtFlags.NoTrackAlias);
}

public sealed class CtTarget : TargetInstance
{
    /// <summary>Conntrack helpers built into the reference kernel, by name and layer-4 protocol.</summary>
    private static readonly HashSet<(string Name, ushort Protocol)> s_helpers =
    [
        ("ftp", 6), ("irc", 6), ("sip", 6), ("pptp", 6), ("Q.931", 6), ("sane", 6),
        ("sip", 17), ("tftp", 17), ("amanda", 17), ("netbios-ns", 17), ("snmp", 17), ("snmp_trap", 17),
        ("RAS", 17), ("H.245", 17),
    ];

    private static readonly (string Name, CtEvents Event)[] s_ctEvents =
    [
        ("new", CtEvents.New), ("related", CtEvents.Related), ("destroy", CtEvents.Destroy), ("reply", CtEvents.Reply),
        ("assured", CtEvents.Assured), ("protoinfo", CtEvents.ProtoInfo), ("helper", CtEvents.Helper),
        ("mark", CtEvents.Mark), ("natseqinfo", CtEvents.NatSeqInfo), ("secmark", CtEvents.SecMark),
    ];

    private static readonly (string Name, CtExpEvents Event)[] s_expEvents = [("new", CtExpEvents.New)];

    private readonly Extension _ext;

    internal CtTarget(Extension ext, CtFlags flags)
    {
        _ext = ext;
        Flags = flags;
    }

    public override Extension Extension => _ext;

    public override string SaveName => IsNotrackAlias ? "NOTRACK" : "CT";
    public override string ListName => "CT";

    public CtFlags Flags { get; private set; }

    public bool IsNotrackAlias => (Flags & CtFlags.NoTrackAlias) != 0;

    /// <summary>Whether packets leave conntrack alone (<c>--notrack</c> or <c>-j NOTRACK</c>).</summary>
    public bool NoTrack => (Flags & CtFlags.NoTrack) != 0;

    /// <summary>Conntrack helper to attach; empty for none (at most 15 bytes).</summary>
    public string Helper { get; private set; } = "";

    /// <summary>Timeout policy name; empty for none (at most 31 bytes).</summary>
    public string Timeout { get; private set; } = "";

    public CtEvents Events { get; private set; }
    public CtExpEvents ExpectationEvents { get; private set; }

    /// <summary>Conntrack zone id (ignored when <see cref="CtFlags.ZoneMark"/> takes the zone from the packet mark).</summary>
    public ushort Zone { get; private set; }

    public override void Parse(OptionDef option, string? arg, bool invert, RuleContext ctx)
    {
        switch (option.Name)
        {
            case "notrack":
                Flags |= CtFlags.NoTrack;
                break;
            case "helper":
                Helper = XtParsing.TruncateBytes(arg!, 15);
                break;
            case "timeout":
                Timeout = XtParsing.TruncateBytes(arg!, 31);
                break;
            case "ctevents":
                Events = (CtEvents)ParseEvents(arg!, s_ctEvents.Select(e => (e.Name, (uint)e.Event)));
                break;
            case "expevents":
                ExpectationEvents = (CtExpEvents)ParseEvents(arg!, s_expEvents.Select(e => (e.Name, (uint)e.Event)));
                break;
            case "zone-orig":
            case "zone-reply":
            case "zone":
                if (option.Name == "zone-orig") Flags |= CtFlags.ZoneDirOrig;
                if (option.Name == "zone-reply") Flags |= CtFlags.ZoneDirReply;
                Zone = 0;
                if (string.Equals(arg, "mark", StringComparison.OrdinalIgnoreCase))
                {
                    Flags |= CtFlags.ZoneMark;
                }
                else
                {
                    if (!XtParsing.StrToUL(arg!, 0, 0, ushort.MaxValue, out ulong z, out int end) || end != arg!.Length)
                        throw Xt.Param($"Cannot parse {arg} as a zone ID");
                    Zone = (ushort)z;
                }
                break;
        }
    }

    private static uint ParseEvents(string list, IEnumerable<(string Name, uint Bit)> table)
    {
        uint mask = 0;
        var known = table.ToList();
        foreach (var name in list.Split(','))
        {
            int i = known.FindIndex(e => e.Name == name);
            if (i < 0) throw Xt.Param($"Unknown event type \"{name}\"");
            mask |= known[i].Bit;
        }
        return mask;
    }

    /// <summary>
    /// xt_CT: raw table only. With notrack nothing else is looked at; otherwise a helper needs
    /// a (non-inverted) protocol it exists for, and a timeout policy needs a protocol and an
    /// existing policy (none exist here).
    /// </summary>
    public override string? CheckEntry(KernelCheckContext ctx)
    {
        if (ctx.Table != "raw") return "Invalid argument";
        if (NoTrack) return null;
        ushort proto = ctx.Header.InvertProtocol ? (ushort)0 : ctx.Header.Protocol;
        if (Helper.Length > 0 && (proto == 0 || !s_helpers.Contains((Helper, proto))))
            return "No such file or directory";
        if (Timeout.Length > 0)
            return proto == 0 ? "Invalid argument" : "No such file or directory";
        return null;
    }

    public override void Save(StringBuilder sb)
    {
        if (IsNotrackAlias) return;
        AppendOptions(sb, "--");
    }

    public override void Print(StringBuilder sb, bool numeric)
    {
        if (IsNotrackAlias)
        {
            sb.Append(" NOTRACK");
            return;
        }
        sb.Append(" CT");
        AppendOptions(sb, "");
    }

    private void AppendOptions(StringBuilder sb, string dashes)
    {
        if (NoTrack) sb.Append(' ').Append(dashes).Append("notrack");
        if (Helper.Length > 0) sb.Append(' ').Append(dashes).Append("helper ").Append(Helper);
        if (Timeout.Length > 0) sb.Append(' ').Append(dashes).Append("timeout ").Append(Timeout);
        if (Events != 0) AppendEvents(sb, dashes + "ctevents", s_ctEvents.Select(e => (e.Name, (uint)e.Event)), (uint)Events);
        if (ExpectationEvents != 0) AppendEvents(sb, dashes + "expevents", s_expEvents.Select(e => (e.Name, (uint)e.Event)), (uint)ExpectationEvents);
        if ((Flags & CtFlags.ZoneMark) != 0 || Zone != 0)
        {
            sb.Append(' ').Append(dashes).Append("zone");
            var dir = Flags & (CtFlags.ZoneDirOrig | CtFlags.ZoneDirReply);
            if (dir == CtFlags.ZoneDirOrig) sb.Append("-orig");
            else if (dir == CtFlags.ZoneDirReply) sb.Append("-reply");
            if ((Flags & CtFlags.ZoneMark) != 0) sb.Append(" mark");
            else sb.Append(' ').Append(Zone);
        }
    }

    private static void AppendEvents(StringBuilder sb, string label, IEnumerable<(string Name, uint Bit)> table, uint mask)
    {
        sb.Append(' ').Append(label).Append(' ');
        string sep = "";
        foreach (var (name, bit) in table)
        {
            if ((mask & bit) == 0) continue;
            sb.Append(sep).Append(name);
            sep = ",";
        }
    }
}
