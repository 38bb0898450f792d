namespace SharpTables.Rules.Extensions.XtOpt;

/// <summary>C number conversions as libxtables uses them (strtoumax, xtables_strtoul, atoi, atoll).</summary>
public static class XtNum
{
    private static bool IsCSpace(char c) => c is ' ' or '\t' or '\n' or '\v' or '\f' or '\r';

    private static int Digit(char c) =>
        c is >= '0' and <= '9' ? c - '0' : c is >= 'a' and <= 'z' ? c - 'a' + 10 : c is >= 'A' and <= 'Z' ? c - 'A' + 10 : 99;

    /// <summary>
    /// strtoumax(s + start, &amp;end, base): leading white space, a sign, the 0x/0 prefixes for base 0
    /// (and 16); <paramref name="end"/> == <paramref name="start"/> when nothing was converted.
    /// On overflow the value is <see cref="ulong.MaxValue"/> and <paramref name="erange"/> is set.
    /// </summary>
    public static ulong StrToUMax(string s, int start, int radix, out int end, out bool erange)
    {
        erange = false;
        end = start;
        int i = start;
        while (i < s.Length && IsCSpace(s[i])) i++;
        bool negative = false;
        if (i < s.Length && (s[i] == '+' || s[i] == '-')) { negative = s[i] == '-'; i++; }
        if ((radix == 0 || radix == 16) && i + 1 < s.Length && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')
            && i + 2 < s.Length && Digit(s[i + 2]) < 16)
        {
            radix = 16;
            i += 2;
        }
        else if (radix == 0)
        {
            radix = i < s.Length && s[i] == '0' ? 8 : 10;
        }
        int digitsStart = i;
        ulong acc = 0;
        for (; i < s.Length && Digit(s[i]) < radix; i++)
        {
            if (erange) continue;
            ulong d = (ulong)Digit(s[i]);
            if (acc > (ulong.MaxValue - d) / (ulong)radix) { erange = true; acc = ulong.MaxValue; continue; }
            acc = acc * (ulong)radix + d;
        }
        if (i == digitsStart) return 0;
        end = i;
        if (negative && !erange) acc = unchecked(0 - acc);
        return acc;
    }

    /// <summary>
    /// xtables_strtoul with an end pointer: true when a number was read (no leading '-') and it lies
    /// in [min, max] (max 0 = no bound); the rest of the string is left to the caller.
    /// </summary>
    public static bool StrToUL(string s, int start, out ulong value, out int end, ulong min, ulong max)
    {
        value = 0;
        end = start;
        int p = start;
        while (p < s.Length && IsCSpace(s[p])) p++;
        if (p < s.Length && s[p] == '-') return false;
        ulong v = StrToUMax(s, start, 0, out int myEnd, out bool erange);
        if (myEnd == start) return false;
        end = myEnd;
        if (!erange && min <= v && (max == 0 || v <= max))
        {
            value = v;
            return true;
        }
        return false;
    }

    /// <summary>xtables_strtoul without an end pointer: the whole string must be the number.</summary>
    public static bool StrToUL(string s, out ulong value, ulong min, ulong max) =>
        StrToUL(s, 0, out value, out int end, min, max) && end == s.Length;

    /// <summary>atoll: white space, sign, decimal digits; saturates like strtoll.</summary>
    public static long Atoll(string s)
    {
        int i = 0;
        while (i < s.Length && IsCSpace(s[i])) i++;
        bool negative = false;
        if (i < s.Length && (s[i] == '+' || s[i] == '-')) { negative = s[i] == '-'; i++; }
        ulong acc = 0;
        bool over = false;
        for (; i < s.Length && s[i] is >= '0' and <= '9'; i++)
        {
            ulong d = (ulong)(s[i] - '0');
            if (acc > (ulong.MaxValue - d) / 10) { over = true; continue; }
            acc = acc * 10 + d;
        }
        if (negative)
            return over || acc > (ulong)long.MaxValue + 1 ? long.MinValue : unchecked(-(long)acc);
        return over || acc > long.MaxValue ? long.MaxValue : (long)acc;
    }

    /// <summary>atoi: glibc's (int)strtol, i.e. the saturated 64-bit value truncated to 32 bits.</summary>
    public static int Atoi(string s) => unchecked((int)Atoll(s));

    /// <summary>
    /// xtopt_parse_mint (XTTYPE_UINT*RC): up to <paramref name="maxIter"/> numbers separated by ':',
    /// an empty first field meaning 0 and an empty second field meaning <paramref name="lmax"/>.
    /// </summary>
    public static List<ulong> ParseRange(string ext, string option, string arg, ulong lmax, int maxIter = 2)
    {
        var values = new List<ulong>(2);
        int pos = 0;
        while (true)
        {
            if (values.Count == maxIter)
                throw Xt.Param($"{ext}: Too many components for option \"--{option}\" (max: {maxIter})\n");
            int end;
            ulong value;
            if (pos >= arg.Length || arg[pos] == ':')
            {
                end = pos;
                value = values.Count == 1 ? lmax : 0;
            }
            else
            {
                if (!StrToUL(arg, pos, out value, out end, 0, lmax))
                    throw Xt.Param($"{ext}: bad value for option \"--{option}\" near \"{arg[pos..]}\", or out of range (0-{lmax}).\n");
                if (end < arg.Length && arg[end] != ':')
                    throw Xt.Param($"{ext}: Argument to \"--{option}\" has unexpected characters near \"{arg[end..]}\".\n");
            }
            values.Add(value);
            if (end >= arg.Length) break;
            pos = end + 1;
        }
        return values;
    }

    /// <summary>
    /// xtables_parse_val_mask without a name map (XTTYPE_MARKMASK32): <c>value[/mask]</c>, C numbers,
    /// the mask defaulting to 0xffffffff.
    /// </summary>
    public static (uint Value, uint Mask) ParseMarkMask(string ext, string option, string arg)
    {
        XtablesException Bad() => Xt.Param($"{ext}: bad integer value for option \"--{option}\", or out of range.\n");
        XtablesException Garbage() => Xt.Param($"{ext}: trailing garbage after value for option \"--{option}\".\n");
        if (!StrToUL(arg, 0, out ulong value, out int end, 0, uint.MaxValue)) throw Bad();
        if (end == arg.Length) return ((uint)value, uint.MaxValue);
        if (arg[end] != '/') throw Garbage();
        if (!StrToUL(arg, end + 1, out ulong mask, out end, 0, uint.MaxValue)) throw Bad();
        if (end != arg.Length) throw Garbage();
        return ((uint)value, (uint)mask);
    }

    /// <summary>xtables_print_mark_mask: " 0xV" or " 0xV/0xM".</summary>
    public static void AppendMarkMask(System.Text.StringBuilder sb, uint value, uint mask)
    {
        sb.Append(" 0x").Append(value.ToString("x", System.Globalization.CultureInfo.InvariantCulture));
        if (mask != uint.MaxValue) sb.Append("/0x").Append(mask.ToString("x", System.Globalization.CultureInfo.InvariantCulture));
    }
}
