using System.Buffers.Binary;
using SharpTables.Packets;

namespace SharpTables.Engine.Conntrack;

/// <summary>
/// The conntrack helper of a connection (nf_conn_help), attached when the connection's first packet
/// carried a <c>-j CT --helper</c> template. Only the FTP helper is implemented; the others are
/// accepted by the rule language and attach nothing.
/// </summary>
public sealed class ConnHelper(string name)
{
    public string Name { get; } = name;

    /// <summary>Expectations of this connection in the table (master_help->expecting).</summary>
    internal int Expecting;

    /// <summary>nf_ct_ftp_master: per direction, up to two sequence numbers just after a '\n'.</summary>
    internal readonly uint[] SeqAfterNewline = new uint[4];
    internal readonly int[] SeqAfterNewlineCount = new int[2];

    /// <summary>The helper <c>CT --helper NAME</c> attaches for this protocol, or null when it is not implemented.</summary>
    public static string? Implemented(string name, byte protocol) => name == "ftp" && protocol == IpProtocol.Tcp ? "ftp" : null;
}

/// <summary>
/// An expected connection (nf_conntrack_expect): a new connection whose original tuple matches
/// (any source port) is RELATED to its master and consumes the expectation.
/// </summary>
internal sealed class Expectation
{
    public required ConnTuple Tuple;
    public required Connection Master;
    public required uint Expires;
}

/// <summary>
/// nf_conntrack_ftp: reads PORT and EPRT commands (original direction) and the 227 and 229 answers
/// (reply direction) of an FTP control connection and expects the data connection they announce.
/// As the kernel, it looks only at a packet that starts right after a line end it saw in that
/// direction, so the first data of each side is never read, and drops a packet that starts like a
/// command but cannot be parsed. Without NAT only: the FTP NAT helper that rewrites the addresses
/// in the payload is not modelled.
/// </summary>
internal static class FtpHelper
{
    /// <summary>ftp_exp_policy: one expectation per control connection, for 5 minutes.</summary>
    public const int MaxExpected = 1;
    public const uint ExpectTimeout = 5 * 60 * EngineClock.Hz;

    private enum Kind : byte { Port, Eprt, Pasv, Epsv }

    /// <summary>help(): false when the packet is to be dropped.</summary>
    public static bool Help(ConntrackTable table, Connection ct, ConnHelper helper, ReadOnlySpan<byte> packet, in PacketInfo info, CtInfo ctinfo)
    {
        if (ctinfo != CtInfo.Established && ctinfo != CtInfo.EstablishedReply) return true;
        if (!info.HasTransportHeader || info.Protocol != IpProtocol.Tcp) return true;
        int dataoff = info.TransportOffset + info.TcpDataOffset * 4;
        int end = Math.Min(packet.Length, info.TotalLength);
        if (dataoff >= end) return true;
        var data = packet[dataoff..end];
        int dir = ctinfo == CtInfo.EstablishedReply ? 1 : 0;
        uint seq = info.TcpSequence;
        bool endsInNewline = data[^1] == (byte)'\n';
        uint nextSeq = unchecked(seq + (uint)data.Length);
        bool keep = true;

        ct.EnterTracking();
        try
        {
            if (FindNewlineSeq(helper, seq, dir))
            {
                int found = dir == 0
                    ? Search(data, "PORT"u8, (byte)' ', (byte)'\r', Kind.Port, ct, out var cmd)
                    : Search(data, "227 "u8, 0, 0, Kind.Pasv, ct, out cmd);
                if (found == 0)
                    found = dir == 0
                        ? Search(data, "EPRT"u8, (byte)' ', (byte)'\r', Kind.Eprt, ct, out cmd)
                        : Search(data, "229 "u8, (byte)'(', (byte)')', Kind.Epsv, ct, out cmd);
                if (found < 0) return false; // "partial matching": dropped, the line-end record is not updated
                if (found > 0) keep = Expect(table, ct, dir, cmd);
            }
            if (endsInNewline) UpdateNewlineSeq(helper, nextSeq, dir);
        }
        finally
        {
            ct.ExitTracking();
        }
        return keep;
    }

    /// <summary>The address and port a command announced (nf_conntrack_man), in the connection's family.</summary>
    private struct Command
    {
        public UInt128 Address;
        public ushort Port;
    }

    /// <summary>find_pattern: 1 found (cmd filled), 0 not this command, -1 a partial or unparsable one.</summary>
    private static int Search(ReadOnlySpan<byte> data, ReadOnlySpan<byte> pattern, byte skip, byte term, Kind kind, Connection ct, out Command cmd)
    {
        // The address defaults to the sender's own (EPSV answers name none).
        int dir = kind is Kind.Port or Kind.Eprt ? 0 : 1;
        cmd = new Command { Address = dir == 0 ? ct.Original.Source : ct.Reply.Source };
        if (data.Length <= pattern.Length)
            return StartsWithIgnoreCase(pattern, data) ? -1 : 0;
        if (!StartsWithIgnoreCase(data, pattern)) return 0;
        int i = pattern.Length;
        if (skip != 0)
        {
            while (data[i] != skip)
            {
                if (i == data.Length - 1) return -1;
                i++;
            }
            i++;
        }
        var rest = data[i..];
        int length = kind switch
        {
            Kind.Port => Rfc959(rest, term, ct.Original.Version, ref cmd),
            Kind.Pasv => Rfc1123(rest, ct.Original.Version, ref cmd),
            Kind.Eprt => Eprt(rest, ct.Original.Version, ref cmd),
            _ => EpsvResponse(rest, ref cmd),
        };
        return length == 0 ? -1 : 1;
    }

    private static bool StartsWithIgnoreCase(ReadOnlySpan<byte> s, ReadOnlySpan<byte> prefix)
    {
        for (int k = 0; k < prefix.Length; k++)
            if (Lower(s[k]) != Lower(prefix[k])) return false;
        return true;
    }

    private static byte Lower(byte b) => b is >= (byte)'A' and <= (byte)'Z' ? (byte)(b + 32) : b;

    /// <summary>try_number: <paramref name="count"/> decimal numbers separated by <paramref name="sep"/>, ended by <paramref name="term"/> (0: anything).</summary>
    private static int Numbers(ReadOnlySpan<byte> data, Span<uint> values, byte sep, byte term)
    {
        values.Clear();
        int n = 0;
        for (int len = 0; len < data.Length && n < values.Length; len++)
        {
            byte c = data[len];
            if (c is >= (byte)'0' and <= (byte)'9') values[n] = unchecked(values[n] * 10 + (uint)(c - '0'));
            else if (c == sep) n++;
            else return (c == term || term == 0) && n == values.Length - 1 ? len : 0;
        }
        return 0;
    }

    /// <summary>try_rfc959: h1,h2,h3,h4,p1,p2. The IPv4 address replaces the top 32 bits of an IPv6 one, as the kernel's union does.</summary>
    private static int Rfc959(ReadOnlySpan<byte> data, byte term, byte version, ref Command cmd)
    {
        Span<uint> a = stackalloc uint[6];
        int length = Numbers(data, a, (byte)',', term);
        if (length == 0) return 0;
        uint ip = unchecked(a[0] << 24 | a[1] << 16 | a[2] << 8 | a[3]);
        cmd.Address = version == 4 ? ip : (cmd.Address & ~((UInt128)uint.MaxValue << 96)) | (UInt128)ip << 96;
        cmd.Port = unchecked((ushort)(a[4] << 8 | a[5]));
        return length;
    }

    /// <summary>try_rfc1123: the numbers of "227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)" start at the first digit.</summary>
    private static int Rfc1123(ReadOnlySpan<byte> data, byte version, ref Command cmd)
    {
        int i = 0;
        while (i < data.Length && data[i] is not (>= (byte)'0' and <= (byte)'9')) i++;
        return i == data.Length ? 0 : Rfc959(data[i..], 0, version, ref cmd);
    }

    /// <summary>get_port: a non-zero decimal port up to the delimiter; returns the index after it, 0 on failure.</summary>
    private static int Port(ReadOnlySpan<byte> data, int start, byte delim, ref Command cmd)
    {
        ushort port = 0;
        for (int i = start; i < data.Length; i++)
        {
            byte c = data[i];
            if (c == delim)
            {
                if (port == 0) return 0;
                cmd.Port = port;
                return i + 1;
            }
            if (c is < (byte)'0' or > (byte)'9') return 0;
            port = unchecked((ushort)(port * 10 + (c - '0')));
        }
        return 0;
    }

    private static bool BadDelimiter(byte d) => d is >= (byte)'0' and <= (byte)'9' || d < 33 || d > 126;

    /// <summary>try_eprt: |1|a.b.c.d|port| or |2|v6-address|port|, the protocol matching the connection's.</summary>
    private static int Eprt(ReadOnlySpan<byte> data, byte version, ref Command cmd)
    {
        if (data.Length <= 3) return 0;
        byte delim = data[0];
        if (BadDelimiter(delim) || data[2] != delim) return 0;
        if (data[1] != (version == 4 ? (byte)'1' : (byte)'2')) return 0;
        int length;
        if (version == 4)
        {
            Span<uint> a = stackalloc uint[4];
            length = Numbers(data[3..], a, (byte)'.', delim);
            if (length != 0) cmd.Address = unchecked(a[0] << 24 | a[1] << 16 | a[2] << 8 | a[3]);
        }
        else
        {
            // An IPv6 address in text is at most 45 characters (in6_pton's limit in effect).
            length = data[3..].IndexOf(delim);
            if (length is <= 0 or > 45) return 0;
            Span<char> text = stackalloc char[length];
            for (int k = 0; k < length; k++) text[k] = (char)data[3 + k];
            if (!System.Net.IPAddress.TryParse(text, out var addr) || addr.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
                return 0;
            Span<byte> bytes = stackalloc byte[16];
            addr.TryWriteBytes(bytes, out _);
            cmd.Address = BinaryPrimitives.ReadUInt128BigEndian(bytes);
        }
        return length == 0 ? 0 : Port(data, 3 + length + 1, delim, ref cmd);
    }

    /// <summary>try_epsv_response: (|||port|).</summary>
    private static int EpsvResponse(ReadOnlySpan<byte> data, ref Command cmd)
    {
        if (data.Length <= 3) return 0;
        byte delim = data[0];
        if (BadDelimiter(delim) || data[1] != delim || data[2] != delim) return 0;
        return Port(data, 3, delim, ref cmd);
    }

    /// <summary>
    /// The expectation of a parsed command: from the other side's address (any port) to the announced
    /// address and port. An address other than the sender's own is not expected (the module's
    /// loose=0: no holes towards third hosts). False when the expectation cannot be added (drop).
    /// </summary>
    private static bool Expect(ConntrackTable table, Connection ct, int dir, in Command cmd)
    {
        ref readonly var own = ref dir == 0 ? ref ct.Original : ref ct.Reply;
        if (cmd.Address != own.Source) return true;
        ref readonly var other = ref dir == 0 ? ref ct.Reply : ref ct.Original;
        var tuple = new ConnTuple(other.Version, IpProtocol.Tcp, other.Source, other.Destination, 0, cmd.Port);
        return table.AddExpectation(ct, tuple, MaxExpected, ExpectTimeout);
    }

    private static bool FindNewlineSeq(ConnHelper h, uint seq, int dir)
    {
        for (int i = 0; i < h.SeqAfterNewlineCount[dir]; i++)
            if (h.SeqAfterNewline[dir * 2 + i] == seq) return true;
        return false;
    }

    /// <summary>update_nl_seq: remembers two positions per direction, replacing the older one by a later one.</summary>
    private static void UpdateNewlineSeq(ConnHelper h, uint seq, int dir)
    {
        int n = h.SeqAfterNewlineCount[dir];
        for (int i = 0; i < n; i++)
            if (h.SeqAfterNewline[dir * 2 + i] == seq) return;
        if (n < 2)
        {
            h.SeqAfterNewline[dir * 2 + n] = seq;
            h.SeqAfterNewlineCount[dir] = n + 1;
            return;
        }
        int oldest = (int)(h.SeqAfterNewline[dir * 2] - h.SeqAfterNewline[dir * 2 + 1]) < 0 ? 0 : 1;
        if ((int)(seq - h.SeqAfterNewline[dir * 2 + oldest]) > 0) h.SeqAfterNewline[dir * 2 + oldest] = seq;
    }
}
