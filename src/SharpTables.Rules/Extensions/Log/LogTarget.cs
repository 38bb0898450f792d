using System.Text;

namespace SharpTables.Rules.Extensions.Log;

/// <summary>What LOG adds to each line (the kernel's XT_LOG_* bits).</summary>
[Flags]
public enum LogFlags : byte
{
    None = 0,
    TcpSequence = 0x01,
    TcpOptions = 0x02,
    IpOptions = 0x04,
    Uid = 0x08,
    MacDecode = 0x20,
}

/// <summary><c>-j LOG</c> (libxt_LOG / xt_LOG): write a kernel log line per packet.</summary>
public sealed class LogExtension : TargetExtension
{
    public override string Name => "LOG";

    public override IReadOnlyList<OptionDef> Options { get; } =
    [
        new("log-level"),
        new("log-prefix"),
        new("log-tcp-sequence", ArgKind.None),
        new("log-tcp-options", ArgKind.None),
        new("log-ip-options", ArgKind.None),
        new("log-uid", ArgKind.None),
        new("log-macdecode", ArgKind.None),
    ];

    public override TargetInstance Create() => new LogTarget(this);
}

public sealed class LogTarget(LogExtension ext) : TargetInstance
{
    /// <summary>syslog's default LOG level (LOG_WARNING), omitted by save.</summary>
    public const byte DefaultLevel = 4;

    /// <summary>The kernel keeps 30 bytes for the prefix, including the terminating NUL.</summary>
    public const int MaxPrefixLength = 29;

    /// <summary>Names --log-level accepts (sorted, as xtables bsearches them; exact case).</summary>
    private static readonly (string Name, byte Level)[] s_levelNames =
    [
        ("alert", 1), ("crit", 2), ("debug", 7), ("emerg", 0), ("error", 3),
        ("info", 6), ("notice", 5), ("panic", 0), ("warning", 4),
    ];

    /// <summary>glibc's prioritynames: the first name of each level is what -L shows.</summary>
    private static readonly string[] s_printNames = ["emerg", "alert", "crit", "err", "warn", "notice", "info", "debug"];

    public override Extension Extension => ext;

    /// <summary>syslog level 0 (emerg) to 7 (debug).</summary>
    public byte Level { get; private set; } = DefaultLevel;

    /// <summary>Text put before each log line; empty when none (at most 29 bytes).</summary>
    public string Prefix { get; private set; } = "";

    public LogFlags Flags { get; private set; }

    public override void Parse(OptionDef option, string? arg, bool invert, RuleContext ctx)
    {
        switch (option.Name)
        {
            case "log-level":
                Level = ParseLevel(arg!);
                break;
            case "log-prefix":
                if (arg!.Length < 1)
                    throw Xt.Param("Argument must have a minimum length of 1 characters\n");
                Prefix = XtParsing.TruncateBytes(arg, MaxPrefixLength);
                if (arg.Contains('\n'))
                    throw Xt.Param("Newlines not allowed in --log-prefix");
                break;
            case "log-tcp-sequence": Flags |= LogFlags.TcpSequence; break;
            case "log-tcp-options": Flags |= LogFlags.TcpOptions; break;
            case "log-ip-options": Flags |= LogFlags.IpOptions; break;
            case "log-uid": Flags |= LogFlags.Uid; break;
            case "log-macdecode": Flags |= LogFlags.MacDecode; break;
        }
    }

    /// <summary>xtopt's XTTYPE_SYSLOGLEVEL: a number 0-7 or one of the syslog names.</summary>
    internal static byte ParseLevel(string arg)
    {
        if (XtParsing.StrToUL(arg, 0, 0, 7, out ulong n, out int end) && end == arg.Length) return (byte)n;
        foreach (var (name, level) in s_levelNames)
            if (name == arg) return level;
        throw Xt.Param($"log level \"{arg}\" unknown\n");
    }

    public override void Save(StringBuilder sb)
    {
        if (Prefix.Length > 0) sb.Append(" --log-prefix ").Append(SaveQuoting.Quote(Prefix));
        if (Level != DefaultLevel) sb.Append(" --log-level ").Append(Level);
        if ((Flags & LogFlags.TcpSequence) != 0) sb.Append(" --log-tcp-sequence");
        if ((Flags & LogFlags.TcpOptions) != 0) sb.Append(" --log-tcp-options");
        if ((Flags & LogFlags.IpOptions) != 0) sb.Append(" --log-ip-options");
        if ((Flags & LogFlags.Uid) != 0) sb.Append(" --log-uid");
        if ((Flags & LogFlags.MacDecode) != 0) sb.Append(" --log-macdecode");
    }

    public override void Print(StringBuilder sb, bool numeric)
    {
        sb.Append(" LOG");
        if (numeric)
        {
            sb.Append(" flags ").Append((byte)Flags).Append(" level ").Append(Level);
        }
        else
        {
            if (Level < s_printNames.Length) sb.Append(" level ").Append(s_printNames[Level]);
            else sb.Append(" UNKNOWN level ").Append(Level);
            if ((Flags & LogFlags.TcpSequence) != 0) sb.Append(" tcp-sequence");
            if ((Flags & LogFlags.TcpOptions) != 0) sb.Append(" tcp-options");
            if ((Flags & LogFlags.IpOptions) != 0) sb.Append(" ip-options");
            if ((Flags & LogFlags.Uid) != 0) sb.Append(" uid");
            if ((Flags & LogFlags.MacDecode) != 0) sb.Append(" macdecode");
        }
        if (Prefix.Length > 0) sb.Append(" prefix \"").Append(Prefix).Append('"');
    }
}
