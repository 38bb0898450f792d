using System.Text;
using SharpTables.Rules.Extensions.XtOpt;
using SharpTables.Rules.Model;
using SharpTables.Rules.Parsing;
using SharpTables.Rules.Printing;

namespace SharpTables.Rules.Extensions.Conntrack;

/// <summary><c>-m conntrack</c> (libxt_conntrack revision 3 / xt_conntrack_mtinfo3).</summary>
public sealed class ConntrackExtension : XtOptMatchExtension
{
    public override string Name => "conntrack";

    internal const int OState = 0, OProto = 1, OOrigSrc = 2, OOrigDst = 3, OReplSrc = 4, OReplDst = 5,
        OOrigSrcPort = 6, OOrigDstPort = 7, OReplSrcPort = 8, OReplDstPort = 9, OStatus = 10, OExpire = 11, ODir = 12;

    public override IReadOnlyList<XtEntry> Entries { get; } =
    [
        new("ctstate", OState) { Invert = true },
        new("ctproto", OProto) { Invert = true },
        new("ctorigsrc", OOrigSrc) { Invert = true },
        new("ctorigdst", OOrigDst) { Invert = true },
        new("ctreplsrc", OReplSrc) { Invert = true },
        new("ctrepldst", OReplDst) { Invert = true },
        new("ctstatus", OStatus) { Invert = true },
        new("ctexpire", OExpire) { Invert = true },
        new("ctorigsrcport", OOrigSrcPort) { Invert = true },
        new("ctorigdstport", OOrigDstPort) { Invert = true },
        new("ctreplsrcport", OReplSrcPort) { Invert = true },
        new("ctrepldstport", OReplDstPort) { Invert = true },
        new("ctdir", ODir),
    ];

    public override MatchInstance Create() => new ConntrackMatch(this);
}

/// <summary>
/// An address and mask of one tuple side (<c>--ctorigsrc</c> and friends), at full width (an IPv6
/// address, or an IPv4 one in the low 32 bits); the address is kept unmasked.
/// </summary>
public readonly record struct ConntrackAddress(UInt128 Address128, UInt128 Mask128)
{
    /// <summary>The IPv4 address (low 32 bits).</summary>
    public uint Address => (uint)Address128;
    /// <summary>The IPv4 mask (low 32 bits).</summary>
    public uint Mask => (uint)Mask128;
}

/// <summary>A port range of one tuple side; <see cref="High"/> 0 means "just <see cref="Low"/>" when printing.</summary>
public readonly record struct ConntrackPorts(ushort Low, ushort High);

public sealed class ConntrackMatch(ConntrackExtension ext) : XtOptMatch
{
    public override Extension Extension => ext;

    /// <summary>Which tests the rule makes (match_flags).</summary>
    public ConntrackFlags MatchFlags { get; private set; }
    /// <summary>Which of those tests are inverted (invert_flags); for Direction, set means REPLY.</summary>
    public ConntrackFlags InvertFlags { get; private set; }
    public ConntrackStates States { get; private set; }
    public ConntrackStatus Status { get; private set; }
    /// <summary>Layer-4 protocol of the original tuple (<c>--ctproto</c>).</summary>
    public byte Protocol { get; private set; }
    public ConntrackAddress OrigSource { get; private set; }
    public ConntrackAddress OrigDestination { get; private set; }
    public ConntrackAddress ReplySource { get; private set; }
    public ConntrackAddress ReplyDestination { get; private set; }
    public ConntrackPorts OrigSourcePorts { get; private set; }
    public ConntrackPorts OrigDestinationPorts { get; private set; }
    public ConntrackPorts ReplySourcePorts { get; private set; }
    public ConntrackPorts ReplyDestinationPorts { get; private set; }
    /// <summary>Remaining lifetime range in seconds (<c>--ctexpire</c>).</summary>
    public uint ExpiresMin { get; private set; }
    public uint ExpiresMax { get; private set; }
    /// <summary>With <see cref="ConntrackFlags.Direction"/>: true for <c>--ctdir REPLY</c>.</summary>
    public bool DirectionReply => (InvertFlags & ConntrackFlags.Direction) != 0;

    public bool Has(ConntrackFlags f) => (MatchFlags & f) != 0;
    public bool Inverted(ConntrackFlags f) => (InvertFlags & f) != 0;

    private void Set(ConntrackFlags f, bool invert)
    {
        MatchFlags |= f;
        if (invert) InvertFlags |= f;
    }

    protected override void ParseEntry(XtEntry entry, string arg, bool invert, RuleContext ctx)
    {
        const string n = "conntrack";
        switch (entry.Id)
        {
            case ConntrackExtension.OState:
                States |= ParseStates(arg);
                Set(ConntrackFlags.State, invert);
                break;
            case ConntrackExtension.OProto:
                Protocol = (byte)CommandParser.ParseProtocol(arg);
                // libxt_conntrack tests XT_INV_PROTO (0x40), which in invert_flags is the --ctstatus bit.
                if (Protocol == 0 && ((ushort)InvertFlags & 0x40) != 0)
                    throw Xt.Param("conntrack: rule would never match protocol");
                Set(ConntrackFlags.Proto, invert);
                break;
            case ConntrackExtension.OOrigSrc:
                OrigSource = Address(XtHost.ParseHostMask(n, entry.Name, arg, Family));
                Set(ConntrackFlags.OrigSrc, invert);
                break;
            case ConntrackExtension.OOrigDst:
                OrigDestination = Address(XtHost.ParseHostMask(n, entry.Name, arg, Family));
                Set(ConntrackFlags.OrigDst, invert);
                break;
            case ConntrackExtension.OReplSrc:
                ReplySource = Address(XtHost.ParseHostMask(n, entry.Name, arg, Family));
                Set(ConntrackFlags.ReplSrc, invert);
                break;
            case ConntrackExtension.OReplDst:
                ReplyDestination = Address(XtHost.ParseHostMask(n, entry.Name, arg, Family));
                Set(ConntrackFlags.ReplDst, invert);
                break;
            case ConntrackExtension.OStatus:
                Status |= ParseStatuses(arg);
                Set(ConntrackFlags.Status, invert);
                break;
            case ConntrackExtension.OExpire:
            {
                var v = XtNum.ParseRange(n, entry.Name, arg, uint.MaxValue);
                ExpiresMin = (uint)v[0];
                ExpiresMax = (uint)(v.Count >= 2 ? v[1] : v[0]);
                Set(ConntrackFlags.Expires, invert);
                break;
            }
            case ConntrackExtension.OOrigSrcPort:
                OrigSourcePorts = Ports(XtHost.ParsePortRange(n, entry.Name, arg));
                Set(ConntrackFlags.OrigSrcPort, invert);
                break;
            case ConntrackExtension.OOrigDstPort:
                OrigDestinationPorts = Ports(XtHost.ParsePortRange(n, entry.Name, arg));
                Set(ConntrackFlags.OrigDstPort, invert);
                break;
            case ConntrackExtension.OReplSrcPort:
                ReplySourcePorts = Ports(XtHost.ParsePortRange(n, entry.Name, arg));
                Set(ConntrackFlags.ReplSrcPort, invert);
                break;
            case ConntrackExtension.OReplDstPort:
                ReplyDestinationPorts = Ports(XtHost.ParsePortRange(n, entry.Name, arg));
                Set(ConntrackFlags.ReplDstPort, invert);
                break;
            case ConntrackExtension.ODir:
                if (string.Equals(arg, "ORIGINAL", StringComparison.OrdinalIgnoreCase))
                {
                    MatchFlags |= ConntrackFlags.Direction;
                    InvertFlags &= ~ConntrackFlags.Direction;
                }
                else if (string.Equals(arg, "REPLY", StringComparison.OrdinalIgnoreCase))
                {
                    MatchFlags |= ConntrackFlags.Direction;
                    InvertFlags |= ConntrackFlags.Direction;
                }
                else
                {
                    throw BadValue(n, "--ctdir", arg);
                }
                break;
        }
    }

    private static ConntrackAddress Address((UInt128 Address, UInt128 Mask) a) => new(a.Address, a.Mask);
    private static ConntrackPorts Ports((ushort Low, ushort High) p) => new(p.Low, p.High);

    /// <summary>conntrack_ps_states.</summary>
    private static ConntrackStates ParseStates(string arg)
    {
        var mask = ConntrackStates.None;
        int comma;
        while ((comma = arg.IndexOf(',')) >= 0)
        {
            if (comma == 0 || ConntrackNames.ParseState(arg[..comma], withNat: true) is not { } s)
                throw Xt.Param($"Bad ctstate \"{arg}\"");
            mask |= s;
            arg = arg[(comma + 1)..];
        }
        if (arg.Length == 0 || ConntrackNames.ParseState(arg, withNat: true) is not { } last)
            throw Xt.Param($"Bad ctstate \"{arg}\"");
        return mask | last;
    }

    /// <summary>conntrack_ps_statuses.</summary>
    private static ConntrackStatus ParseStatuses(string arg)
    {
        var mask = ConntrackStatus.None;
        int comma;
        while ((comma = arg.IndexOf(',')) >= 0)
        {
            if (comma == 0 || ConntrackNames.ParseStatus(arg[..comma]) is not { } s)
                throw Xt.Param($"Bad ctstatus \"{arg}\"");
            mask |= s;
            arg = arg[(comma + 1)..];
        }
        if (arg.Length == 0 || ConntrackNames.ParseStatus(arg) is not { } last)
            throw Xt.Param($"Bad ctstatus \"{arg}\"");
        return mask | last;
    }

    protected override void Check(RuleContext ctx)
    {
        if (XFlags == 0) throw Xt.Param("conntrack: At least one option is required");
    }

    public override void Save(StringBuilder sb) => Dump(sb, "--", numeric: true);

    public override void Print(StringBuilder sb, bool numeric) => Dump(sb, "", numeric);

    /// <summary>conntrack_dump, revision 3.</summary>
    private void Dump(StringBuilder sb, string prefix, bool numeric)
    {
        void Not(ConntrackFlags f) { if (Inverted(f)) sb.Append(" !"); }

        if (Has(ConntrackFlags.State))
        {
            Not(ConntrackFlags.State);
            sb.Append(' ').Append(prefix).Append(Has(ConntrackFlags.StateAlias) ? "state" : "ctstate");
            ConntrackNames.AppendStates(sb, States);
        }
        if (Has(ConntrackFlags.Proto))
        {
            Not(ConntrackFlags.Proto);
            sb.Append(' ').Append(prefix).Append("ctproto ").Append(Protocol);
        }
        DumpAddress(sb, prefix, "ctorigsrc", ConntrackFlags.OrigSrc, OrigSource, numeric);
        DumpAddress(sb, prefix, "ctorigdst", ConntrackFlags.OrigDst, OrigDestination, numeric);
        DumpAddress(sb, prefix, "ctreplsrc", ConntrackFlags.ReplSrc, ReplySource, numeric);
        DumpAddress(sb, prefix, "ctrepldst", ConntrackFlags.ReplDst, ReplyDestination, numeric);
        DumpPorts(sb, prefix, "ctorigsrcport", ConntrackFlags.OrigSrcPort, OrigSourcePorts);
        DumpPorts(sb, prefix, "ctorigdstport", ConntrackFlags.OrigDstPort, OrigDestinationPorts);
        DumpPorts(sb, prefix, "ctreplsrcport", ConntrackFlags.ReplSrcPort, ReplySourcePorts);
        DumpPorts(sb, prefix, "ctrepldstport", ConntrackFlags.ReplDstPort, ReplyDestinationPorts);
        if (Has(ConntrackFlags.Status))
        {
            Not(ConntrackFlags.Status);
            sb.Append(' ').Append(prefix).Append("ctstatus");
            ConntrackNames.AppendStatus(sb, Status);
        }
        if (Has(ConntrackFlags.Expires))
        {
            Not(ConntrackFlags.Expires);
            sb.Append(' ').Append(prefix).Append("ctexpire ").Append(ExpiresMin);
            if (ExpiresMax != ExpiresMin) sb.Append(':').Append(ExpiresMax);
        }
        if (Has(ConntrackFlags.Direction))
            sb.Append(' ').Append(prefix).Append("ctdir ").Append(DirectionReply ? "REPLY" : "ORIGINAL");
    }

    private void DumpAddress(StringBuilder sb, string prefix, string name, ConntrackFlags flag, ConntrackAddress a, bool numeric)
    {
        if (!Has(flag)) return;
        if (Inverted(flag)) sb.Append(" !");
        sb.Append(' ').Append(prefix).Append(name);
        if (!numeric && a.Address128 == 0)
        {
            sb.Append(" anywhere");
            return;
        }
        string? hostName = numeric ? null : Family == Family.IPv6 ? ListPrinter.Hosts.NameOf6(a.Address128) : ListPrinter.Hosts.NameOf(a.Address);
        sb.Append(' ').Append(hostName ?? InetText.Format(Family, a.Address128)).Append(InetText.MaskSuffix(Family, a.Mask128));
    }

    private void DumpPorts(StringBuilder sb, string prefix, string name, ConntrackFlags flag, ConntrackPorts p)
    {
        if (!Has(flag)) return;
        if (Inverted(flag)) sb.Append(" !");
        sb.Append(' ').Append(prefix).Append(name).Append(' ').Append(p.Low);
        if (p.High != 0 && p.Low != p.High) sb.Append(':').Append(p.High);
    }
}
