using System.Buffers.Binary;
using System.Numerics;

namespace SharpTables.Packets;

/// <summary>
/// IPv4 addresses as host-order <see cref="uint"/> values: parsing in the forms iptables
/// accepts, formatting, and prefix/mask arithmetic. No allocation beyond the formatted string.
/// </summary>
public static class Ipv4
{
    /// <summary>
    /// Parses a dotted address the way libxtables' <c>__numeric_to_ipaddr</c> does: each part is a
    /// C integer (decimal, 0x hex, leading-0 octal) from 0 to 255, and a short form such as
    /// <c>10</c> or <c>10.1</c> is completed with zero bytes (a network address).
    /// </summary>
    public static bool TryParse(ReadOnlySpan<char> s, out uint address) => TryParseCore(s, isMask: false, out address);

    /// <summary>A dotted mask: all four parts are required.</summary>
    public static bool TryParseMask(ReadOnlySpan<char> s, out uint mask) => TryParseCore(s, isMask: true, out mask);

    private static bool TryParseCore(ReadOnlySpan<char> s, bool isMask, out uint address)
    {
        address = 0;
        if (s.Length > 19) s = s[..19]; // libxtables copies into a 20-byte buffer
        for (int i = 0; i < 4; i++)
        {
            int dot = s.IndexOf('.');
            ReadOnlySpan<char> part = i == 3 ? s : (dot < 0 ? s : s[..dot]);
            if (i < 3 && dot < 0)
            {
                if (isMask) return false;
                if (!TryParseCUInt(part, 255, out uint b)) return false;
                address |= b << (24 - 8 * i);
                return true;
            }
            if (!TryParseCUInt(part, 255, out uint v)) return false;
            address |= v << (24 - 8 * i);
            if (i < 3) s = s[(dot + 1)..];
        }
        return true;
    }

    /// <summary>strtoul with base 0 and a bound, rejecting trailing garbage and empty input.</summary>
    public static bool TryParseCUInt(ReadOnlySpan<char> s, ulong max, out uint value)
    {
        value = 0;
        if (!TryParseCULong(s, out ulong v) || v > max) return false;
        value = (uint)v;
        return true;
    }

    /// <summary>C <c>strtoull(s, &amp;end, 0)</c> with a full-consumption check.</summary>
    public static bool TryParseCULong(ReadOnlySpan<char> s, out ulong value)
    {
        value = 0;
        // strtoul skips leading white space and accepts a sign
        while (s.Length > 0 && char.IsWhiteSpace(s[0])) s = s[1..];
        bool negative = false;
        if (s.Length > 0 && (s[0] == '+' || s[0] == '-')) { negative = s[0] == '-'; s = s[1..]; }
        if (s.Length == 0) return false;
        int radix = 10;
        if (s.Length >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) { radix = 16; s = s[2..]; if (s.Length == 0) return false; }
        else if (s.Length > 1 && s[0] == '0') { radix = 8; s = s[1..]; }
        ulong acc = 0;
        foreach (char c in s)
        {
            int d = c is >= '0' and <= '9' ? c - '0' : c is >= 'a' and <= 'f' ? c - 'a' + 10 : c is >= 'A' and <= 'F' ? c - 'A' + 10 : 99;
            if (d >= radix) return false;
            ulong next = acc * (ulong)radix + (ulong)d;
            if (next / (ulong)radix != acc) return false; // overflow
            acc = next;
        }
        if (negative) return false; // iptables' strtoui helpers reject negative values
        value = acc;
        return true;
    }

    public static string Format(uint address) =>
        $"{address >> 24}.{(address >> 16) & 0xff}.{(address >> 8) & 0xff}.{address & 0xff}";

    /// <summary>127.0.0.0/8: loopback addresses, of host scope.</summary>
    public static bool IsLoopback(uint address) => address >> 24 == 127;

    /// <summary>The mask with <paramref name="prefixLength"/> leading one bits.</summary>
    public static uint MaskFromPrefix(int prefixLength) =>
        prefixLength <= 0 ? 0u : prefixLength >= 32 ? uint.MaxValue : uint.MaxValue << (32 - prefixLength);

    /// <summary>The prefix length of a contiguous mask, or -1 when the mask has holes.</summary>
    public static int PrefixLength(uint mask)
    {
        int ones = BitOperations.PopCount(mask);
        return MaskFromPrefix(ones) == mask ? ones : -1;
    }

    public static uint Read(ReadOnlySpan<byte> b) => BinaryPrimitives.ReadUInt32BigEndian(b);
}
