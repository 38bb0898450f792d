using SharpTables.Rules.Extensions.XtOpt;
namespace SharpTables.Rules.Extensions;

/// <summary>libxtables' xtoptions.c parsers for option types that several extensions share.</summary>
public static class XtOptChecks
{
    /// <summary>
    /// The name xtopt uses for an option in messages: that of the first option with the same id
    /// (xtopt finds entries by id, so an alias such as "--sport" is reported as "--source-port").
    /// </summary>
    public static string EntryName(Extension ext, OptionDef option) =>
        ext.Options.FirstOrDefault(o => o.Id == option.Id)?.Name ?? option.Name;

    private static readonly (byte Value, string Name)[] s_tosNames =
    [
        (0x10, "Minimize-Delay"), (0x08, "Maximize-Throughput"), (0x04, "Maximize-Reliability"),
        (0x02, "Minimize-Cost"), (0x00, "Normal-Service"),
    ];

    /// <summary>
    /// XTTYPE_TOSMASK (<c>xtopt_parse_tosmask</c>): <c>value[/mask]</c> (numbers 0-255, mask defaulting
    /// to 0xff) or a symbolic TOS name, whose mask is <paramref name="symbolMask"/>.
    /// </summary>
    public static (byte Value, byte Mask) ParseTosMask(string arg, byte symbolMask)
    {
        if (XtNum.StrToUL(arg, 0, out ulong value, out int end, 0, 0xFF))
        {
            byte mask = 0xFF;
            if (end < arg.Length && arg[end] == '/')
            {
                if (!XtNum.StrToUL(arg, end + 1, out ulong m, out end, 0, 0xFF))
                    throw Xt.Param($"Illegal value: \"{arg}\"");
                mask = (byte)m;
            }
            if (end < arg.Length) throw Xt.Param($"Illegal value: \"{arg}\"");
            return ((byte)value, mask);
        }
        foreach (var (v, name) in s_tosNames)
            if (string.Equals(arg, name, StringComparison.OrdinalIgnoreCase)) return (v, symbolMask);
        throw Xt.Param($"Symbolic name \"{arg}\" is unknown");
    }

    /// <summary>tos_try_print_symbolic: the TOS name for a value, when the mask is 0x3f.</summary>
    public static string? TosSymbol(byte value, byte mask)
    {
        if (mask != 0x3F) return null;
        foreach (var (v, name) in s_tosNames) if (v == value) return name;
        return null;
    }
}
