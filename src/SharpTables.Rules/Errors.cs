namespace SharpTables.Rules;

/// <summary>xtables exit codes (enum xtables_exittype).</summary>
public enum XtablesExit { Ok = 0, OtherProblem = 1, ParameterProblem = 2, VersionProblem = 3, ResourceProblem = 4 }

/// <summary>How iptables words the first line of an error.</summary>
public enum ErrorStyle
{
    /// <summary><c>iptables v1.8.9 (nf_tables): message</c> (xtables_error).</summary>
    Versioned,
    /// <summary><c>iptables: message</c> (the nft_strerror path of do_command).</summary>
    Short,
    /// <summary>The message alone (e.g. <c>Bad argument `x'</c>).</summary>
    Plain,
}

/// <summary>An error iptables would report; rendered by <see cref="XtablesException.Render"/>.</summary>
public sealed class XtablesException(XtablesExit exit, string message, ErrorStyle style = ErrorStyle.Versioned)
    : Exception(message)
{
    public XtablesExit Exit { get; } = exit;
    public ErrorStyle Style { get; } = style;
    /// <summary>Set by iptables-restore: the line the error occurred at.</summary>
    public int? Line { get; init; }
    /// <summary>The error happened inside iptables-restore (changes how it is rendered).</summary>
    public bool Restore { get; init; }
    /// <summary>Restore's bare "line N failed" (no reason).</summary>
    public bool Bare { get; init; }

    /// <summary>Version text iptables prints after its name.</summary>
    public const string VersionTag = "v1.8.9 (nf_tables)";

    /// <summary>
    /// The full stderr text (without final newline) as iptables prints it, under <paramref name="prog"/>'s name.
    /// Errors from iptables-restore (with <see cref="Line"/>) take its shapes: parameter problems gain
    /// "Error occurred at line: N"; failed commands read "PROG: line N failed: MESSAGE"; kernel refusals
    /// "PROG v1.8.9 (nf_tables): \nline N: MESSAGE".
    /// </summary>
    public string Render(string prog)
    {
        if (Line is { } line && Restore)
        {
            if (Exit == XtablesExit.ParameterProblem)
            {
                var head = Style == ErrorStyle.Plain ? Message : $"{prog} {VersionTag}: {Message}";
                return $"{head}\nError occurred at line: {line}\nTry `{prog} -h' or '{prog} --help' for more information.";
            }
            if (Exit == XtablesExit.ResourceProblem)
                return $"{prog} {VersionTag}: \nline {line}: {Message.TrimStart()}";
            if (Exit == XtablesExit.VersionProblem)
                return $"{prog} {VersionTag}: {Message}\nError occurred at line: {line}\nTry `{prog} -h' or '{prog} --help' for more information.";
            if (Style == ErrorStyle.Short && !Bare)
                return Message.StartsWith("COMMIT expected", StringComparison.Ordinal)
                    ? $"{prog}: {Message}"
                    : $"{prog}: line {line} failed: {Message}";
            return $"{prog}: line {line} failed";
        }
        string first = Style switch
        {
            ErrorStyle.Versioned => $"{prog} {VersionTag}: {Message}",
            ErrorStyle.Short => $"{prog}: {Message}",
            _ => Message,
        };
        var text = first;
        // exit_tryhelp alone (e.g. ip6tables -4) prints only the "Try" line.
        if (Exit == XtablesExit.ParameterProblem)
            text += (text.Length > 0 ? "\n" : "") + $"Try `{prog} -h' or '{prog} --help' for more information.";
        else if (Exit == XtablesExit.VersionProblem)
            text += $"\nPerhaps {prog} or your kernel needs to be upgraded.";
        return text;
    }
}

/// <summary>Throw helpers with iptables' wording.</summary>
public static class Xt
{
    private static readonly AsyncLocal<TextWriter?> s_warnings = new();

    /// <summary>
    /// Where warnings iptables prints on success go (e.g. "warn: --nflog-range has never worked…"):
    /// the CLI's stderr, a test's capture, or Console.Error when nobody said.
    /// </summary>
    public static TextWriter? WarningWriter
    {
        get => s_warnings.Value;
        set => s_warnings.Value = value;
    }

    /// <summary>Prints a warning line the way iptables does, to <see cref="WarningWriter"/>.</summary>
    public static void Warn(string line) => (s_warnings.Value ?? Console.Error).WriteLine(line);

    public static XtablesException Param(string message) => new(XtablesExit.ParameterProblem, message);
    public static XtablesException Other(string message, ErrorStyle style = ErrorStyle.Short) => new(XtablesExit.OtherProblem, message, style);
    public static XtablesException Resource(string message) => new(XtablesExit.ResourceProblem, message);

    /// <summary>xtopt: "EXT: bad value for option "--OPT", or out of range (MIN-MAX)."</summary>
    public static XtablesException BadValue(string ext, string option, ulong min, ulong max) =>
        Param($"{ext}: bad value for option \"--{option}\", or out of range ({min}-{max}).\n");

    /// <summary>Parses an unsigned integer the way xtopt's XTTYPE_UINT* does (strtoul base 0, bounds).</summary>
    public static uint ParseUInt(string ext, string option, string? arg, uint min = 0, uint max = uint.MaxValue)
    {
        if (arg == null || !Packets.Ipv4.TryParseCULong(arg, out ulong v) || v < min || v > max)
            throw BadValue(ext, option, min, max);
        return (uint)v;
    }

    /// <summary>"0x%x" as iptables prints marks.</summary>
    public static string Hex(uint v) => "0x" + v.ToString("x");
}
