namespace SharpTables.Rules.Extensions;

/// <summary>
/// Parsing primitives of libxtables that the generic helpers in <see cref="Xt"/> do not cover:
/// numbers followed by more text (xtables_strtoul with an end pointer), value/mask pairs with
/// iptables' exact messages, service names of any protocol, and the xtopt option-table
/// constraints "cannot be used together with" / "also requires".
/// </summary>
public static class XtParsing
{
    /// <summary>
    /// xtables_strtoul(s, &amp;end, &amp;v, min, max): a C unsigned number (strtoumax, base 0) at
    /// <paramref name="start"/>. <paramref name="end"/> is where the number stopped (or
    /// <paramref name="start"/> when there is none). False when there is no number, it is
    /// negative, it overflows, or it lies outside [min, max].
    /// </summary>
    public static bool StrToUL(string s, int start, ulong min, ulong max, out ulong value, out int end)
    {
        value = 0;
        end = start;
        int i = start;
        while (i < s.Length && IsCSpace(s[i])) i++;
        if (i < s.Length && s[i] == '-') return false;
        if (i < s.Length && s[i] == '+') i++;
        int radix = 10;
        if (i < s.Length && s[i] == '0')
        {
            if (i + 2 < s.Length && (s[i + 1] == 'x' || s[i + 1] == 'X') && Digit(s[i + 2]) < 16)
            {
                radix = 16;
                i += 2;
            }
            else radix = 8;
        }
        int digitsStart = i;
        ulong acc = 0;
        bool overflow = false;
        while (i < s.Length)
        {
            int d = Digit(s[i]);
            if (d >= radix) break;
            if (!overflow)
            {
                ulong next = unchecked(acc * (ulong)radix + (ulong)d);
                if (acc > (ulong.MaxValue - (ulong)d) / (ulong)radix) overflow = true;
                else acc = next;
            }
            i++;
        }
        if (i == digitsStart) return false;
        end = i;
        if (overflow || acc < min || acc > max) return false;
        value = acc;
        return true;
    }

    private static bool IsCSpace(char c) => c is ' ' or '\t' or '\n' or '\v' or '\f' or '\r';

    private static int Digit(char c) =>
        c is >= '0' and <= '9' ? c - '0' : c is >= 'a' and <= 'z' ? c - 'a' + 10 : c is >= 'A' and <= 'Z' ? c - 'A' + 10 : 99;

    /// <summary>
    /// xtables_parse_val_mask without a name map (XTTYPE_MARKMASK32): <c>value[/mask]</c>,
    /// the mask defaulting to all ones.
    /// </summary>
    public static (uint Value, uint Mask) MarkMask(string ext, string option, string arg)
    {
        XtablesException Bad() => Xt.Param($"{ext}: bad integer value for option \"--{option}\", or out of range.\n");
        XtablesException Garbage() => Xt.Param($"{ext}: trailing garbage after value for option \"--{option}\".\n");
        if (!StrToUL(arg, 0, 0, uint.MaxValue, out ulong v, out int end)) throw Bad();
        if (end == arg.Length) return ((uint)v, uint.MaxValue);
        if (arg[end] != '/') throw Garbage();
        if (!StrToUL(arg, end + 1, 0, uint.MaxValue, out ulong m, out end)) throw Bad();
        if (end != arg.Length) throw Garbage();
        return ((uint)v, (uint)m);
    }

    /// <summary>
    /// The longest start of <paramref name="s"/> that fits in <paramref name="maxBytes"/> bytes of
    /// UTF-8: iptables copies strings into fixed-size C buffers, so limits count bytes. (Where C
    /// would cut a character in half, the whole character is dropped.)
    /// </summary>
    public static string TruncateBytes(string s, int maxBytes)
    {
        if (System.Text.Encoding.UTF8.GetByteCount(s) <= maxBytes) return s;
        int bytes = 0, i = 0;
        while (i < s.Length)
        {
            int len = char.IsSurrogatePair(s, i) ? 2 : 1;
            int n = System.Text.Encoding.UTF8.GetByteCount(s.AsSpan(i, len));
            if (bytes + n > maxBytes) break;
            bytes += n;
            i += len;
        }
        return s[..i];
    }

    /// <summary>xtables_service_to_port(name, NULL): getservbyname for any protocol.</summary>
    public static int? ServicePort(string name)
    {
        foreach (var proto in (string[])["tcp", "udp", "sctp", "dccp"])
            if (NetDb.Port(name, proto) is { } p) return p;
        return null;
    }
}

/// <summary>One row of an xtopt option table, for the final exclusion checks.</summary>
/// <param name="Name">Option name without dashes.</param>
/// <param name="Id">The option's id (its bit in the flags).</param>
/// <param name="Excl">Bits of the options it cannot be combined with.</param>
/// <param name="Also">Bits of the options it requires.</param>
public readonly record struct XtOptRow(string Name, int Id, uint Excl = 0, uint Also = 0);

/// <summary>
/// xtables_options_fcheck's "also requires" / "cannot be used together with" checks, walking
/// the table in its declared order (which decides which pair the message names).
/// </summary>
public static class XtOptionTable
{
    public static void CheckCombinations(string ext, IReadOnlyList<XtOptRow> table, uint flags)
    {
        foreach (var entry in table)
        {
            if ((flags & (1u << entry.Id)) == 0) continue;
            for (int i = 0; i < 32; i++)
            {
                if (i == entry.Id) continue;
                XtOptRow? other = null;
                foreach (var o in table) if (o.Id == i) { other = o; break; }
                if (other is not { } oth) continue;
                uint of = 1u << oth.Id, ef = 1u << entry.Id;
                if ((entry.Also & of) != 0 && (flags & of) == 0)
                    throw Xt.Param($"{ext}: option \"--{entry.Name}\" also requires \"--{oth.Name}\".\n");
                if ((entry.Excl & of) == 0) continue;
                if ((flags & (ef | of)) != (ef | of)) continue;
                throw Xt.Param($"{ext}: option \"--{entry.Name}\" cannot be used together with \"--{oth.Name}\".\n");
            }
        }
    }
}
