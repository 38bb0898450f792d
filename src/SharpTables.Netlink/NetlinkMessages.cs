using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace SharpTables.Netlink;

/// <summary>Netlink constants (linux/netlink.h) and the nfnetlink header (linux/netfilter/nfnetlink.h).</summary>
public static class Nl
{
    /// <summary>sizeof(struct nlmsghdr): u32 len, u16 type, u16 flags, u32 seq, u32 pid (host order).</summary>
    public const int HeaderLength = 16;
    /// <summary>sizeof(struct nlattr): u16 len, u16 type (host order).</summary>
    public const int AttrHeaderLength = 4;
    /// <summary>sizeof(struct nfgenmsg): u8 family, u8 version, be16 res_id.</summary>
    public const int NfGenLength = 4;

    public const ushort NLMSG_NOOP = 1, NLMSG_ERROR = 2, NLMSG_DONE = 3, NLMSG_OVERRUN = 4;
    public const ushort NLM_F_REQUEST = 1, NLM_F_MULTI = 2, NLM_F_ACK = 4;
    /// <summary>Flag bits of nla_type; the attribute type is the low 14 bits.</summary>
    public const ushort NLA_F_NESTED = 0x8000, NLA_F_NET_BYTEORDER = 0x4000, NLA_TYPE_MASK = 0x3fff;

    /// <summary>NLMSG_ALIGN / NLA_ALIGN: 4-byte alignment.</summary>
    public static int Align(int length) => (length + 3) & ~3;
}

/// <summary>
/// Writes netlink messages into a caller's buffer: host-order headers, 4-byte aligned
/// attributes, big-endian helpers for netfilter payloads. Allocates nothing; writing past the
/// buffer is a programming error and throws.
/// </summary>
public ref struct NetlinkWriter
{
    private readonly Span<byte> _buffer;
    private int _position;
    private int _message;

    public NetlinkWriter(Span<byte> buffer)
    {
        _buffer = buffer;
        _message = -1;
    }

    /// <summary>Bytes written so far (whole messages once <see cref="EndMessage"/> ran).</summary>
    public readonly int Length => _position;
    /// <summary>The bytes written so far.</summary>
    public readonly ReadOnlySpan<byte> Written => _buffer[.._position];

    /// <summary>Starts a message; its length is filled in by <see cref="EndMessage"/>.</summary>
    public void BeginMessage(ushort type, ushort flags, uint sequence)
    {
        if (_message >= 0) throw new InvalidOperationException("previous netlink message not ended");
        var h = Take(Nl.HeaderLength);
        _message = _position - Nl.HeaderLength;
        MemoryMarshal.Write(h, 0u);
        MemoryMarshal.Write(h[4..], in type);
        MemoryMarshal.Write(h[6..], in flags);
        MemoryMarshal.Write(h[8..], in sequence);
        MemoryMarshal.Write(h[12..], 0u);
    }

    /// <summary>Writes the nfnetlink header: address family, version 0 and the resource id (queue number), big-endian.</summary>
    public void NfGenHeader(byte family, ushort resourceId)
    {
        var h = Take(Nl.NfGenLength);
        h[0] = family;
        h[1] = 0; // NFNETLINK_V0
        BinaryPrimitives.WriteUInt16BigEndian(h[2..], resourceId);
    }

    /// <summary>Adds an attribute and returns its payload to fill (zeroed, padding included).</summary>
    public Span<byte> Attribute(ushort type, int payloadLength)
    {
        var a = Take(Nl.Align(Nl.AttrHeaderLength + payloadLength));
        a.Clear();
        ushort len = (ushort)(Nl.AttrHeaderLength + payloadLength);
        MemoryMarshal.Write(a, in len);
        MemoryMarshal.Write(a[2..], in type);
        return a.Slice(Nl.AttrHeaderLength, payloadLength);
    }

    /// <summary>Adds an attribute with a copy of <paramref name="payload"/>.</summary>
    public void Attribute(ushort type, ReadOnlySpan<byte> payload) => payload.CopyTo(Attribute(type, payload.Length));

    /// <summary>Adds a 32-bit big-endian attribute (network byte order, as netfilter expects).</summary>
    public void AttributeBE32(ushort type, uint value) => BinaryPrimitives.WriteUInt32BigEndian(Attribute(type, 4), value);

    /// <summary>Starts a nested attribute (NLA_F_NESTED); pass the result to <see cref="EndNested"/>.</summary>
    public int BeginNested(ushort type)
    {
        int start = _position;
        Attribute((ushort)(type | Nl.NLA_F_NESTED), 0);
        return start;
    }

    /// <summary>Closes a nested attribute: its length now covers everything written since <see cref="BeginNested"/>.</summary>
    public readonly void EndNested(int start)
    {
        ushort len = (ushort)(_position - start);
        MemoryMarshal.Write(_buffer[start..], in len);
    }

    /// <summary>Finishes the current message by writing its length.</summary>
    public void EndMessage()
    {
        if (_message < 0) throw new InvalidOperationException("no netlink message started");
        uint len = (uint)(_position - _message);
        MemoryMarshal.Write(_buffer[_message..], in len);
        _message = -1;
    }

    private Span<byte> Take(int n)
    {
        if (_position + n > _buffer.Length) throw new InvalidOperationException("netlink message buffer too small");
        var s = _buffer.Slice(_position, n);
        _position += n;
        return s;
    }
}

/// <summary>One netlink message inside a received datagram.</summary>
public readonly ref struct NetlinkMessage
{
    public NetlinkMessage(ushort type, ushort flags, uint sequence, uint portId, ReadOnlySpan<byte> payload)
    {
        Type = type;
        Flags = flags;
        Sequence = sequence;
        PortId = portId;
        Payload = payload;
    }

    public ushort Type { get; }
    public ushort Flags { get; }
    public uint Sequence { get; }
    public uint PortId { get; }
    /// <summary>The bytes after the 16-byte header, up to the message's length.</summary>
    public ReadOnlySpan<byte> Payload { get; }

    /// <summary>nfnetlink subsystem (high byte of the type).</summary>
    public byte Subsystem => (byte)(Type >> 8);
    /// <summary>nfnetlink message kind (low byte of the type).</summary>
    public byte Kind => (byte)Type;

    /// <summary>
    /// For NLMSG_ERROR: the error as a positive errno (0 = an acknowledgement). -1 when this is
    /// no error message or it is too short.
    /// </summary>
    public int Errno => Type == Nl.NLMSG_ERROR && Payload.Length >= 4 ? -MemoryMarshal.Read<int>(Payload) : -1;

    /// <summary>For NLMSG_ERROR: the sequence number of the request it answers (0 when not included).</summary>
    public uint ErrorSequence => Type == Nl.NLMSG_ERROR && Payload.Length >= 4 + Nl.HeaderLength ? MemoryMarshal.Read<uint>(Payload[12..]) : 0;
}

/// <summary>Walks the netlink messages of one datagram; stops (never throws) at a malformed header.</summary>
public ref struct NetlinkMessageReader
{
    private readonly ReadOnlySpan<byte> _data;
    private int _offset;

    public NetlinkMessageReader(ReadOnlySpan<byte> datagram) => _data = datagram;

    /// <summary>The next message, or false at the end (or at a header that does not fit).</summary>
    public bool TryRead(out NetlinkMessage message) => TryRead(_data, ref _offset, out message);

    /// <summary>
    /// Reads the message at <paramref name="offset"/> of <paramref name="data"/> and moves the offset
    /// past it (aligned). At a malformed header the offset moves to the end and the result is false.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> data, scoped ref int offset, out NetlinkMessage message)
    {
        message = default;
        var rest = offset < data.Length ? data[offset..] : default;
        if (rest.Length < Nl.HeaderLength) { offset = data.Length; return false; }
        uint len = MemoryMarshal.Read<uint>(rest);
        if (len < Nl.HeaderLength || len > (uint)rest.Length) { offset = data.Length; return false; }
        message = new NetlinkMessage(
            MemoryMarshal.Read<ushort>(rest[4..]),
            MemoryMarshal.Read<ushort>(rest[6..]),
            MemoryMarshal.Read<uint>(rest[8..]),
            MemoryMarshal.Read<uint>(rest[12..]),
            rest[Nl.HeaderLength..(int)len]);
        offset = Math.Min(data.Length, offset + Nl.Align((int)len));
        return true;
    }
}

/// <summary>Walks a run of netlink attributes; stops (never throws) at a malformed one.</summary>
public ref struct NetlinkAttributeReader
{
    private ReadOnlySpan<byte> _rest;

    public NetlinkAttributeReader(ReadOnlySpan<byte> attributes) => _rest = attributes;

    /// <summary>
    /// The next attribute: its type with the flag bits masked off (&amp; 0x3fff), whether it is
    /// nested (NLA_F_NESTED), and its payload.
    /// </summary>
    public bool TryRead(out ushort type, out bool nested, out ReadOnlySpan<byte> payload)
    {
        type = 0;
        nested = false;
        payload = default;
        if (_rest.Length < Nl.AttrHeaderLength) return false;
        ushort len = MemoryMarshal.Read<ushort>(_rest);
        ushort raw = MemoryMarshal.Read<ushort>(_rest[2..]);
        if (len < Nl.AttrHeaderLength || len > _rest.Length) { _rest = default; return false; }
        type = (ushort)(raw & Nl.NLA_TYPE_MASK);
        nested = (raw & Nl.NLA_F_NESTED) != 0;
        payload = _rest[Nl.AttrHeaderLength..len];
        int next = Nl.Align(len);
        _rest = next >= _rest.Length ? default : _rest[next..];
        return true;
    }
}
