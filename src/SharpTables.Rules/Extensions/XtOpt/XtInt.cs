namespace SharpTables.Rules.Extensions.XtOpt;

/// <summary>
/// xtopt_parse_int, the parser of XTTYPE_UINT8/16/32/64 options: the whole argument is one C
/// number (strtoumax base 0: decimal, 0x hex or leading-0 octal) in [min, max]; anything else
/// fails with xtopt's "bad value ... or out of range (min-max)." message.
/// </summary>
public static class XtInt
{
    public static ulong Parse(string ext, string option, string? arg, ulong min, ulong max)
    {
        if (arg == null || !XtNum.StrToUL(arg, out ulong value, min, max))
            throw Xt.BadValue(ext, option, min, max);
        return value;
    }
}
