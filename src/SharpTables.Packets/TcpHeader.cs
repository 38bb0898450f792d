using System.Buffers.Binary;

namespace SharpTables.Packets;

/// <summary>
/// A view of a TCP header over bytes that start at it (RFC 9293):
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |          Source Port          |       Destination Port        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                        Sequence Number                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Acknowledgment Number                      |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  Data |       |C|E|U|A|P|R|S|F|                               |
/// | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
/// |       |       |R|E|G|K|H|T|N|N|                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |           Checksum            |         Urgent Pointer        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                           [Options]                           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// <see cref="TryRead"/> checks that the fixed 20 bytes are there; <see cref="IsValid"/> also
/// checks the data offset. Flags use the bits of <see cref="TcpFlagBits"/>.
/// </summary>
public readonly ref struct TcpHeader
{
    /// <summary>Byte offsets of the header fields.</summary>
    public static class Offsets
    {
        /// <summary>Offsets of the fields, from the start of the header.</summary>
        public const int SourcePort = 0, DestinationPort = 2, Sequence = 4, Acknowledgment = 8, DataOffset = 12,
            Flags = 13, Window = 14, Checksum = 16, UrgentPointer = 18, Options = 20;
    }

    /// <summary>The header without options.</summary>
    public const int MinimumSize = 20;
    /// <summary>The largest header (data offset 15).</summary>
    public const int MaximumSize = 60;

    private readonly ReadOnlySpan<byte> _b;

    /// <summary>Wraps <paramref name="bytes"/> (starting at the TCP header) without checking them.</summary>
    public TcpHeader(ReadOnlySpan<byte> bytes) => _b = bytes;

    /// <summary>Wraps <paramref name="bytes"/> when the fixed 20-byte header is present.</summary>
    public static bool TryRead(ReadOnlySpan<byte> bytes, out TcpHeader header)
    {
        header = new TcpHeader(bytes);
        return bytes.Length >= MinimumSize;
    }

    /// <summary>The fixed header is there, the data offset is at least 5 and the options are all there.</summary>
    public bool IsValid => _b.Length >= MinimumSize && HeaderLength >= MinimumSize && HeaderLength <= _b.Length;

    /// <summary>The bytes the view wraps.</summary>
    public ReadOnlySpan<byte> Bytes => _b;
    /// <summary>The source port.</summary>
    public ushort SourcePort => BinaryPrimitives.ReadUInt16BigEndian(_b);
    /// <summary>The destination port.</summary>
    public ushort DestinationPort => BinaryPrimitives.ReadUInt16BigEndian(_b[Offsets.DestinationPort..]);
    /// <summary>The sequence number.</summary>
    public uint Sequence => BinaryPrimitives.ReadUInt32BigEndian(_b[Offsets.Sequence..]);
    /// <summary>The acknowledgment number.</summary>
    public uint Acknowledgment => BinaryPrimitives.ReadUInt32BigEndian(_b[Offsets.Acknowledgment..]);
    /// <summary>Data offset in 32-bit words.</summary>
    public int DataOffset => _b[Offsets.DataOffset] >> 4;
    /// <summary>Data offset in bytes.</summary>
    public int HeaderLength => DataOffset * 4;
    /// <summary>The four reserved bits after the data offset (the AE/NS bit is the lowest).</summary>
    public byte Reserved => (byte)(_b[Offsets.DataOffset] & 0x0f);
    /// <summary>The flags byte (CWR ECE URG ACK PSH RST SYN FIN).</summary>
    public byte Flags => _b[Offsets.Flags];
    /// <summary>FIN is set.</summary>
    public bool Fin => (Flags & TcpFlagBits.Fin) != 0;
    /// <summary>SYN is set.</summary>
    public bool Syn => (Flags & TcpFlagBits.Syn) != 0;
    /// <summary>RST is set.</summary>
    public bool Rst => (Flags & TcpFlagBits.Rst) != 0;
    /// <summary>PSH is set.</summary>
    public bool Psh => (Flags & TcpFlagBits.Psh) != 0;
    /// <summary>ACK is set.</summary>
    public bool Ack => (Flags & TcpFlagBits.Ack) != 0;
    /// <summary>URG is set.</summary>
    public bool Urg => (Flags & TcpFlagBits.Urg) != 0;
    /// <summary>ECE is set.</summary>
    public bool Ece => (Flags & TcpFlagBits.Ece) != 0;
    /// <summary>CWR is set.</summary>
    public bool Cwr => (Flags & TcpFlagBits.Cwr) != 0;
    /// <summary>The receive window (unscaled).</summary>
    public ushort Window => BinaryPrimitives.ReadUInt16BigEndian(_b[Offsets.Window..]);
    /// <summary>The checksum as stored.</summary>
    public ushort Checksum => BinaryPrimitives.ReadUInt16BigEndian(_b[Offsets.Checksum..]);
    /// <summary>The urgent pointer.</summary>
    public ushort UrgentPointer => BinaryPrimitives.ReadUInt16BigEndian(_b[Offsets.UrgentPointer..]);

    /// <summary>The option bytes (20 to data offset * 4), clamped to the bytes present.</summary>
    public ReadOnlySpan<byte> OptionBytes => SpanUtil.Clamp(_b, MinimumSize, HeaderLength);

    /// <summary>Enumerates the options (<c>foreach (var o in tcp.Options)</c>).</summary>
    public TcpOptionEnumerator Options => new(OptionBytes);

    /// <summary>The segment data after the header, clamped to the bytes present.</summary>
    public ReadOnlySpan<byte> Payload => SpanUtil.Clamp(_b, Math.Max(HeaderLength, MinimumSize), _b.Length);
}

/// <summary>TCP option kinds (IANA "TCP Option Kind Numbers").</summary>
public static class TcpOptionKind
{
    /// <summary>The option kinds this library names.</summary>
    public const byte EndOfList = 0, Nop = 1, Mss = 2, WindowScale = 3, SackPermitted = 4, Sack = 5, Timestamp = 8;
}

/// <summary>
/// One TCP option: kind, then for every kind but EOL and NOP a length byte counting kind and
/// length, then the value. Typed accessors read the value of the matching kind and return 0
/// when the value is too short.
/// </summary>
public readonly ref struct TcpOption
{
    internal TcpOption(byte kind, int offset, ReadOnlySpan<byte> value)
    {
        Kind = kind;
        Offset = offset;
        Value = value;
    }

    /// <summary>The option kind.</summary>
    public byte Kind { get; }
    /// <summary>Offset of the kind byte within the options area.</summary>
    public int Offset { get; }
    /// <summary>The bytes after kind and length (empty for EOL and NOP).</summary>
    public ReadOnlySpan<byte> Value { get; }
    /// <summary>MSS (kind 2): the maximum segment size.</summary>
    public ushort Mss => Value.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(Value) : (ushort)0;
    /// <summary>Window scale (kind 3): the shift count.</summary>
    public byte WindowScale => Value.Length >= 1 ? Value[0] : (byte)0;
    /// <summary>Timestamps (kind 8): TSval.</summary>
    public uint TimestampValue => Value.Length >= 8 ? BinaryPrimitives.ReadUInt32BigEndian(Value) : 0;
    /// <summary>Timestamps (kind 8): TSecr.</summary>
    public uint TimestampEcho => Value.Length >= 8 ? BinaryPrimitives.ReadUInt32BigEndian(Value[4..]) : 0;
    /// <summary>SACK (kind 5): the number of (left, right) blocks.</summary>
    public int SackBlockCount => Value.Length / 8;
    /// <summary>SACK (kind 5): left edge of block <paramref name="index"/>.</summary>
    public uint SackLeft(int index) => BinaryPrimitives.ReadUInt32BigEndian(Value[(index * 8)..]);
    /// <summary>SACK (kind 5): right edge of block <paramref name="index"/>.</summary>
    public uint SackRight(int index) => BinaryPrimitives.ReadUInt32BigEndian(Value[(index * 8 + 4)..]);
}

/// <summary>
/// Enumerates TCP options as the kernel's <c>tcp_parse_options</c> does: EOL ends the list
/// (and is yielded), NOP is one byte, every other option needs a length of at least 2 that
/// stays inside the options area. A bad length ends the walk with <see cref="Malformed"/> set.
/// </summary>
public ref struct TcpOptionEnumerator
{
    private readonly ReadOnlySpan<byte> _o;
    private int _next;
    private TcpOption _current;

    /// <summary>Walks <paramref name="options"/>, the bytes after the fixed TCP header.</summary>
    public TcpOptionEnumerator(ReadOnlySpan<byte> options)
    {
        _o = options;
        _next = 0;
        _current = default;
        Malformed = false;
    }

    /// <summary>An option's length was below 2 or ran past the end of the options.</summary>
    public bool Malformed { get; private set; }
    /// <summary>The option just read.</summary>
    public readonly TcpOption Current => _current;

    /// <summary>Enables <c>foreach</c>.</summary>
    public readonly TcpOptionEnumerator GetEnumerator() => this;

    /// <summary>Reads the next option; false at the end of the options area, after EOL, or at a malformed option.</summary>
    public bool MoveNext()
    {
        if (_next >= _o.Length) return false;
        int at = _next;
        byte kind = _o[at];
        if (kind is TcpOptionKind.EndOfList or TcpOptionKind.Nop)
        {
            _current = new TcpOption(kind, at, []);
            _next = kind == TcpOptionKind.EndOfList ? _o.Length : at + 1;
            return true;
        }
        if (at + 2 > _o.Length || _o[at + 1] < 2 || at + _o[at + 1] > _o.Length)
        {
            Malformed = true;
            _next = _o.Length;
            return false;
        }
        int len = _o[at + 1];
        _current = new TcpOption(kind, at, _o.Slice(at + 2, len - 2));
        _next = at + len;
        return true;
    }
}
