using System.Text;

namespace SharpTables.Rules.Extensions.Nflog;

/// <summary>
/// <c>-j NFLOG</c> (libxt_NFLOG). iptables-nft 1.8.9 does not use the xt_NFLOG module: it turns
/// the target into nf_tables' native <c>log group N</c> expression and reads that back, so what
/// survives is what that expression holds: group, prefix (up to 127 bytes), snap length
/// (<c>--nflog-size</c>) and queue threshold. <c>--nflog-range</c> is parsed, warned about and lost.
/// </summary>
public sealed class NflogExtension : TargetExtension
{
    public override string Name => "NFLOG";

    public override IReadOnlyList<OptionDef> Options { get; } =
    [
        new("nflog-group"),
        new("nflog-prefix"),
        new("nflog-range"),
        new("nflog-size"),
        new("nflog-threshold"),
    ];

    public override TargetInstance Create() => new NflogTarget(this);
}

public sealed class NflogTarget(NflogExtension ext) : TargetInstance
{
    /// <summary>NF_LOG_PREFIXLEN - 1: the longest prefix the native log expression keeps.</summary>
    public const int MaxPrefixLength = 127;

    // xtopt ids, in the order of libxt_NFLOG's option table.
    private const int OGroup = 0, OPrefix = 1, ORange = 2, OSize = 3, OThreshold = 4;

    private static readonly XtOptRow[] s_table =
    [
        new("nflog-group", OGroup),
        new("nflog-prefix", OPrefix),
        new("nflog-range", ORange, Excl: 1u << OSize),
        new("nflog-size", OSize, Excl: 1u << ORange),
        new("nflog-threshold", OThreshold),
    ];

    private uint _flags;

    public override Extension Extension => ext;

    /// <summary>The netlink group packets are sent to (0 by default).</summary>
    public ushort Group { get; private set; }

    /// <summary>Text sent along with each packet; empty when none.</summary>
    public string Prefix { get; private set; } = "";

    /// <summary>Number of packet bytes to copy, when <see cref="HasSize"/>.</summary>
    public uint Size { get; private set; }

    /// <summary>Whether <c>--nflog-size</c> limits the copied bytes (otherwise the whole packet).</summary>
    public bool HasSize { get; private set; }

    /// <summary>Packets queued in the kernel before a batch is sent to userspace; 0 = default.</summary>
    public ushort Threshold { get; private set; }

    public override void Parse(OptionDef option, string? arg, bool invert, RuleContext ctx)
    {
        switch (option.Name)
        {
            case "nflog-group":
                Group = (ushort)Xt.ParseUInt("NFLOG", option.Name, arg, 0, ushort.MaxValue);
                _flags |= 1u << OGroup;
                break;
            case "nflog-prefix":
                if (arg!.Length < 1)
                    throw Xt.Param("Argument must have a minimum length of 1 characters\n");
                if (arg.Contains('\n'))
                    throw Xt.Param("Newlines not allowed in --log-prefix");
                Prefix = XtParsing.TruncateBytes(arg, MaxPrefixLength);
                _flags |= 1u << OPrefix;
                break;
            case "nflog-range":
                Xt.ParseUInt("NFLOG", option.Name, arg);
                _flags |= 1u << ORange;
                break;
            case "nflog-size":
                Size = Xt.ParseUInt("NFLOG", option.Name, arg);
                _flags |= 1u << OSize;
                break;
            case "nflog-threshold":
                Threshold = (ushort)Xt.ParseUInt("NFLOG", option.Name, arg, 0, ushort.MaxValue);
                _flags |= 1u << OThreshold;
                break;
        }
    }

    public override void FinalCheck(RuleContext ctx)
    {
        if ((_flags & (1u << ORange)) != 0)
            Xt.Warn("warn: --nflog-range has never worked and is no longer supported, please use --nflog-size instead");
        if ((_flags & (1u << OSize)) != 0) HasSize = true;
        XtOptionTable.CheckCombinations("NFLOG", s_table, _flags);
    }

    public override void Save(StringBuilder sb) => Append(sb, "--");

    public override void Print(StringBuilder sb, bool numeric) => Append(sb, "");

    private void Append(StringBuilder sb, string dashes)
    {
        if (Prefix.Length > 0) sb.Append(' ').Append(dashes).Append("nflog-prefix ").Append(SaveQuoting.Quote(Prefix));
        if (Group != 0) sb.Append(' ').Append(dashes).Append("nflog-group ").Append(Group);
        if (HasSize) sb.Append(' ').Append(dashes).Append("nflog-size ").Append(Size);
        if (Threshold != 0) sb.Append(' ').Append(dashes).Append("nflog-threshold ").Append(Threshold);
    }
}
