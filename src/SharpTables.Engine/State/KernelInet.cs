using System.Globalization;
using System.Text;

namespace SharpTables.Engine.State;

/// <summary>
/// The kernel's address text routines that /proc files use: <c>in4_pton</c>/<c>in6_pton</c>
/// (net/core/utils.c) for what a write accepts, and the <c>%pI4</c>/<c>%pI6</c> printk formats
/// for what a read prints (<c>%pI6</c> is the full, uncompressed form). Addresses are the
/// engine's: IPv4 in the low 32 bits in host order, IPv6 as a big-endian 128-bit number.
/// </summary>
public static class KernelInet
{
    // xdigit2bin's classes.
    private const int XDigit = 0x00010000, Digit = 0x00020000, ColonMask = 0x00700000, Colon1 = 0x00100000,
        Colon2 = 0x00200000, Colon12 = 0x00400000, Dot = 0x00800000, Delim = 0x10000000, Null = 0x20000000,
        Unknown = 0x40000000;

    private static int Classify(int c, int delim)
    {
        if (c == delim || c == 0) return Delim;
        if (c == ':') return ColonMask;
        if (c == '.') return Dot;
        int v = c is >= '0' and <= '9' ? c - '0'
            : c is >= 'a' and <= 'f' ? c - 'a' + 10
            : c is >= 'A' and <= 'F' ? c - 'A' + 10 : -1;
        if (v >= 0) return v | XDigit | (v < 10 ? Digit : 0);
        return delim == -1 ? Delim : Unknown;
    }

    /// <summary>
    /// in4_pton: four decimal octets (each 0-255, at least one digit) ending at <paramref name="delim"/>,
    /// a NUL or the end of <paramref name="src"/>. Returns false for anything else.
    /// </summary>
    public static bool In4Pton(ReadOnlySpan<byte> src, int delim, out uint address) =>
        In4Pton(src, delim, out address, out _);

    private static bool In4Pton(ReadOnlySpan<byte> src, int delim, out uint address, out int consumed)
    {
        address = 0;
        uint value = 0;
        int octets = 0, w = 0, pos = 0;
        while (true)
        {
            int c = Classify(pos < src.Length ? src[pos] : 0, delim);
            consumed = pos;
            if ((c & (Digit | Dot | Delim | ColonMask)) == 0) return false;
            if ((c & (Dot | Delim | ColonMask)) != 0)
            {
                // w carries the class bits, so it is non-zero once a digit was seen.
                if (w == 0) return false;
                value = value << 8 | (uint)(w & 0xff);
                w = 0;
                octets++;
                if ((c & (Delim | ColonMask)) != 0)
                {
                    if (octets != 4) return false;
                    break;
                }
            }
            else
            {
                w = w * 10 + c;
                if ((w & 0xffff) > 255) return false;
            }
            if (octets >= 4) return false;
            pos++;
        }
        address = value;
        return true;
    }

    /// <summary>
    /// in6_pton: up to eight hex groups of at most four digits with one optional <c>::</c> and an
    /// optional dotted IPv4 tail, ending at <paramref name="delim"/>, a NUL or the end of the text.
    /// </summary>
    public static bool In6Pton(ReadOnlySpan<byte> src, int delim, out UInt128 address)
    {
        address = 0;
        Span<byte> buf = stackalloc byte[16];
        buf.Clear();
        int d = 0, dc = -1, tok = -1, w = 0, pos = 0;
        int state = Colon12 | XDigit | Null;
        while (true)
        {
            int c = Classify(pos < src.Length ? src[pos] : 0, delim);
            if ((c & state) == 0) return false;
            if ((c & (Delim | ColonMask)) != 0)
            {
                // One 16-bit group is complete.
                if ((state & Null) == 0)
                {
                    buf[d++] = (byte)(w >> 8);
                    buf[d++] = (byte)w;
                }
                w = 0;
                if ((c & Delim) != 0) break;
                switch (state & ColonMask)
                {
                    case Colon2:
                        dc = d;
                        state = XDigit | Delim;
                        if (dc >= 16) state |= Null;
                        break;
                    case Colon1 | Colon12:
                        state = XDigit | Colon2;
                        break;
                    case Colon1:
                        state = XDigit;
                        break;
                    case Colon12:
                        state = Colon2;
                        break;
                    default:
                        state = 0;
                        break;
                }
                tok = pos + 1;
            }
            else if ((c & Dot) != 0)
            {
                // A dotted IPv4 tail, parsed from the start of the current group.
                int start = tok >= 0 ? tok : pos;
                if (!In4Pton(src[start..], delim, out uint v4, out _)) return false;
                buf[d++] = (byte)(v4 >> 24);
                buf[d++] = (byte)(v4 >> 16);
                buf[d++] = (byte)(v4 >> 8);
                buf[d++] = (byte)v4;
                break;
            }
            else
            {
                w = w << 4 | (c & 0xff);
                state = Colon1 | Delim;
                if ((w & 0xf000) == 0) state |= XDigit;
                if (dc < 0 && d + 2 < 16)
                {
                    state |= Colon12;
                    state &= ~Delim;
                }
                if (d + 2 >= 16) state &= ~(Colon1 | Colon12);
            }
            if ((dc >= 0 && d + 4 < 16) || d + 4 == 16) state |= Dot;
            if (d >= 16) state &= ~(XDigit | ColonMask);
            pos++;
        }

        Span<byte> dst = stackalloc byte[16];
        if (dc >= 0)
        {
            // Move the groups after "::" to the end and zero the gap.
            int i = 15, s = d - 1;
            while (s >= dc) dst[i--] = buf[s--];
            while (i >= dc) dst[i--] = 0;
            while (i >= 0) dst[i--] = buf[s--];
        }
        else
        {
            buf.CopyTo(dst);
        }
        address = Packets.PacketParser.ReadUInt128(dst);
        return true;
    }

    /// <summary>%pI4: dotted decimal.</summary>
    public static void AppendIPv4(StringBuilder sb, uint address) =>
        sb.Append(address >> 24).Append('.').Append((address >> 16) & 0xff).Append('.')
          .Append((address >> 8) & 0xff).Append('.').Append(address & 0xff);

    /// <summary>%pI6: eight groups of four lower-case hex digits, never compressed.</summary>
    public static void AppendIPv6(StringBuilder sb, UInt128 address)
    {
        for (int i = 7; i >= 0; i--)
        {
            sb.Append(((ushort)(address >> (i * 16))).ToString("x4", CultureInfo.InvariantCulture));
            if (i > 0) sb.Append(':');
        }
    }
}
