namespace SharpTables.Rules.Extensions;

/// <summary>
/// C library number parsing with an end position, for extensions whose parsers read a number
/// and then look at what follows it (strtoul/strtoumax and libxtables' xtables_strtoul).
/// </summary>
public static class CParse
{
    private static bool IsCSpace(char c) => c is ' ' or '\t' or '\n' or '\v' or '\f' or '\r';

    private static int Digit(char c) =>
        c is >= '0' and <= '9' ? c - '0' : c is >= 'a' and <= 'z' ? c - 'a' + 10 : c is >= 'A' and <= 'Z' ? c - 'A' + 10 : 99;

    /// <summary>
    /// <c>strtoumax(s + start, &amp;end, base)</c>: leading white space, an optional sign, then digits
    /// (base 0 picks 0x hex / leading-0 octal / decimal). When no digits are read, <paramref name="end"/>
    /// is <paramref name="start"/> (C's endptr = nptr). A minus sign negates modulo 2^64.
    /// </summary>
    public static ulong StrToUMax(string s, int start, int numberBase, out int end, out bool overflow)
    {
        overflow = false;
        end = start;
        int i = start;
        while (i < s.Length && IsCSpace(s[i])) i++;
        bool negative = false;
        if (i < s.Length && (s[i] == '+' || s[i] == '-')) { negative = s[i] == '-'; i++; }
        int radix = numberBase;
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
        while (i < s.Length && Digit(s[i]) < radix)
        {
            ulong d = (ulong)Digit(s[i]);
            if (!overflow)
            {
                if (acc > (ulong.MaxValue - d) / (ulong)radix) overflow = true;
                else acc = acc * (ulong)radix + d;
            }
            i++;
        }
        if (i == digitsStart) return 0; // no conversion: end stays at start
        end = i;
        if (overflow) return ulong.MaxValue;
        return negative ? unchecked(0UL - acc) : acc;
    }

    /// <summary>
    /// libxtables' <c>xtables_strtoul(s, &amp;end, &amp;v, min, max)</c> with an end pointer: a leading
    /// minus is refused, a number must be read (anything may follow it), and it must lie in
    /// [<paramref name="min"/>, <paramref name="max"/>].
    /// </summary>
    public static bool XtStrToUL(string s, int start, out ulong value, out int end, ulong min, ulong max)
    {
        value = 0;
        end = start;
        int p = start;
        while (p < s.Length && IsCSpace(s[p])) p++;
        if (p < s.Length && s[p] == '-') return false;
        ulong v = StrToUMax(s, start, 0, out int e, out bool overflow);
        if (e == start) return false;
        end = e;
        if (overflow || v < min || v > max) return false;
        value = v;
        return true;
    }

    /// <summary>The same, requiring the whole string to be the number (xtables_strtoul with end == NULL).</summary>
    public static bool XtStrToULWhole(string s, out ulong value, ulong min, ulong max) =>
        XtStrToUL(s, 0, out value, out int end, min, max) && end == s.Length;
}
