using System.Numerics;
using System.Text;

namespace SharpTables.Rules.Parsing;

/// <summary>
/// IPv6 addresses as <see cref="UInt128"/> values in network order (the first byte of the address
/// is the most significant byte), read and written exactly as glibc's inet_pton/inet_ntop do, which
/// is what ip6tables prints and accepts: "::" for the longest run of zero groups (the first of equal
/// runs, never a single group), lower-case hex, and the dotted IPv4 tail of ::a.b.c.d and
/// ::ffff:a.b.c.d.
/// </summary>
public static class Ipv6Text
{
    /// <summary>glibc inet_pton(AF_INET6): hex groups, one "::", an optional dotted IPv4 tail.</summary>
    public static bool TryParse(ReadOnlySpan<char> s, out UInt128 address)
    {
        address = 0;
        Span<byte> tmp = stackalloc byte[16];
        tmp.Clear();
        int tp = 0, colonp = -1, i = 0;
        if (s.Length == 0) return false;
        if (s[0] == ':')
        {
            i++;
            if (i == s.Length || s[i] != ':') return false;
        }
        int curtok = i, xdigits = 0;
        uint val = 0;
        while (i < s.Length)
        {
            char ch = s[i++];
            int digit = HexValue(ch);
            if (digit >= 0)
            {
                if (xdigits == 4) return false;
                val = (val << 4) | (uint)digit;
                xdigits++;
                continue;
            }
            if (ch == ':')
            {
                curtok = i;
                if (xdigits == 0)
                {
                    if (colonp >= 0) return false;
                    colonp = tp;
                    continue;
                }
                if (i == s.Length) return false;
                if (tp + 2 > 16) return false;
                tmp[tp++] = (byte)(val >> 8);
                tmp[tp++] = (byte)val;
                xdigits = 0;
                val = 0;
                continue;
            }
            if (ch == '.' && tp + 4 <= 16 && TryParseDottedQuad(s[curtok..], tmp.Slice(tp, 4)))
            {
                tp += 4;
                xdigits = 0;
                break;
            }
            return false;
        }
        if (xdigits > 0)
        {
            if (tp + 2 > 16) return false;
            tmp[tp++] = (byte)(val >> 8);
            tmp[tp++] = (byte)val;
        }
        if (colonp >= 0)
        {
            // "::" stands for the zero groups that make the address 16 bytes long.
            if (tp == 16) return false;
            int n = tp - colonp;
            for (int k = 1; k <= n; k++)
            {
                tmp[16 - k] = tmp[colonp + n - k];
                tmp[colonp + n - k] = 0;
            }
            tp = 16;
        }
        if (tp != 16) return false;
        address = Read(tmp);
        return true;
    }

    /// <summary>
    /// What getaddrinfo adds to inet_pton for a numeric IPv6 host: a zone suffix <c>%ZONE</c>, where
    /// ZONE is a number or the name of an interface of this machine (the scope itself is dropped).
    /// </summary>
    public static bool TryParseScoped(string s, out UInt128 address)
    {
        address = 0;
        int pct = s.IndexOf('%');
        if (pct < 0) return TryParse(s, out address);
        string zone = s[(pct + 1)..];
        if (zone.Length == 0 || !TryParse(s.AsSpan(0, pct), out address)) return false;
        if (zone.All(char.IsAsciiDigit) || (zone.IndexOfAny(['/', '.']) < 0 && Directory.Exists(Path.Combine("/sys/class/net", zone))))
            return true;
        address = 0;
        return false;
    }

    /// <summary>glibc inet_pton4: exactly four decimal parts 0-255, no leading zeros.</summary>
    private static bool TryParseDottedQuad(ReadOnlySpan<char> s, Span<byte> dst)
    {
        Span<byte> tmp = stackalloc byte[4];
        tmp.Clear();
        int tp = 0, octets = 0;
        bool sawDigit = false;
        foreach (char ch in s)
        {
            if (ch is >= '0' and <= '9')
            {
                int next = tmp[tp] * 10 + (ch - '0');
                if (sawDigit && tmp[tp] == 0) return false;
                if (next > 255) return false;
                tmp[tp] = (byte)next;
                if (!sawDigit)
                {
                    if (++octets > 4) return false;
                    sawDigit = true;
                }
            }
            else if (ch == '.' && sawDigit)
            {
                if (octets == 4) return false;
                tmp[++tp] = 0;
                sawDigit = false;
            }
            else return false;
        }
        if (octets < 4) return false;
        tmp.CopyTo(dst);
        return true;
    }

    private static int HexValue(char c) =>
        c is >= '0' and <= '9' ? c - '0' : c is >= 'a' and <= 'f' ? c - 'a' + 10 : c is >= 'A' and <= 'F' ? c - 'A' + 10 : -1;

    private static UInt128 Read(ReadOnlySpan<byte> b)
    {
        UInt128 v = 0;
        foreach (byte x in b) v = (v << 8) | x;
        return v;
    }

    /// <summary>The 16-bit group <paramref name="i"/> (0 = first) of an address.</summary>
    private static int Group(UInt128 a, int i) => (int)(ushort)(a >> (112 - 16 * i));

    /// <summary>glibc inet_ntop(AF_INET6).</summary>
    public static string Format(UInt128 address)
    {
        int bestBase = -1, bestLen = 0, curBase = -1, curLen = 0;
        for (int i = 0; i < 8; i++)
        {
            if (Group(address, i) == 0)
            {
                if (curBase == -1) { curBase = i; curLen = 1; }
                else curLen++;
            }
            else if (curBase != -1)
            {
                if (bestBase == -1 || curLen > bestLen) { bestBase = curBase; bestLen = curLen; }
                curBase = -1;
            }
        }
        if (curBase != -1 && (bestBase == -1 || curLen > bestLen)) { bestBase = curBase; bestLen = curLen; }
        if (bestBase != -1 && bestLen < 2) bestBase = -1;

        var sb = new StringBuilder(41);
        for (int i = 0; i < 8; i++)
        {
            if (bestBase != -1 && i >= bestBase && i < bestBase + bestLen)
            {
                if (i == bestBase) sb.Append(':');
                continue;
            }
            if (i != 0) sb.Append(':');
            if (i == 6 && bestBase == 0 && (bestLen == 6 || (bestLen == 5 && Group(address, 5) == 0xffff)))
            {
                uint v4 = (uint)address;
                sb.Append(v4 >> 24).Append('.').Append((v4 >> 16) & 0xff).Append('.').Append((v4 >> 8) & 0xff).Append('.').Append(v4 & 0xff);
                return sb.ToString();
            }
            sb.Append(Group(address, i).ToString("x"));
        }
        if (bestBase != -1 && bestBase + bestLen == 8) sb.Append(':');
        return sb.ToString();
    }

    /// <summary>The mask with <paramref name="prefixLength"/> leading one bits (0-128).</summary>
    public static UInt128 MaskFromPrefix(int prefixLength) =>
        prefixLength <= 0 ? UInt128.Zero : prefixLength >= 128 ? UInt128.MaxValue : UInt128.MaxValue << (128 - prefixLength);

    /// <summary>xtables_ip6mask_to_cidr: the prefix length of a contiguous mask, or -1 when it has holes.</summary>
    public static int PrefixLength(UInt128 mask)
    {
        int ones = (int)UInt128.PopCount(mask);
        return MaskFromPrefix(ones) == mask ? ones : -1;
    }

    /// <summary>xtables_ip6mask_to_numeric: "" for /128, "/len", or "/mask" for a mask with holes.</summary>
    public static string MaskSuffix(UInt128 mask)
    {
        int len = PrefixLength(mask);
        return len == 128 ? "" : len >= 0 ? "/" + len : "/" + Format(mask);
    }

    /// <summary>
    /// libxt_connlimit's count_bits6: per 32-bit word, the width of the complement's highest set
    /// bit is subtracted from 128 (the prefix length for a contiguous mask).
    /// </summary>
    public static int CountBits(UInt128 mask)
    {
        int bits = 0;
        for (int w = 0; w < 4; w++)
        {
            uint inv = ~(uint)(mask >> (96 - 32 * w));
            bits += 32 - BitOperations.LeadingZeroCount(inv);
        }
        return 128 - bits;
    }
}

/// <summary>Address text of either family (IPv4 in the low 32 bits of the <see cref="UInt128"/>).</summary>
public static class InetText
{
    /// <summary>inet_ntop of the family.</summary>
    public static string Format(Model.Family family, UInt128 address) =>
        family == Model.Family.IPv6 ? Ipv6Text.Format(address) : Packets.Ipv4.Format((uint)address);

    /// <summary>xtables_ipmask_to_numeric / xtables_ip6mask_to_numeric: "" for a host mask, "/len", or "/mask".</summary>
    public static string MaskSuffix(Model.Family family, UInt128 mask)
    {
        if (family == Model.Family.IPv6) return Ipv6Text.MaskSuffix(mask);
        int len = Packets.Ipv4.PrefixLength((uint)mask);
        return len == 32 ? "" : len >= 0 ? "/" + len : "/" + Packets.Ipv4.Format((uint)mask);
    }
}
