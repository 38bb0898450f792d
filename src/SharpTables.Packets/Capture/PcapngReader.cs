using System.Buffers.Binary;
using System.Text;

namespace SharpTables.Packets.Capture;

/// <summary>
/// Reads pcapng files (draft-ietf-opsawg-pcapng): any number of sections, each in its own
/// byte order, with interfaces of different link types. Every block is
/// <code>
/// block type(4) | block total length(4) | body ... | block total length(4)
/// </code>
/// Section Header (0x0a0d0d0a: byte-order magic 0x1a2b3c4d, version 1.x), Interface Description
/// (1: link type, snaplen, options if_name, if_tsresol, if_tsoffset), Enhanced Packet (6),
/// Simple Packet (3) and the obsolete Packet block (2) are read; other blocks are skipped.
/// </summary>
public sealed class PcapngReader : CaptureReader
{
    internal const uint SectionHeaderType = 0x0a0d0d0a;
    private const uint InterfaceDescriptionType = 1, ObsoletePacketType = 2, SimplePacketType = 3, EnhancedPacketType = 6;
    private const uint ByteOrderMagic = 0x1a2b3c4d;
    private const ushort OptEndOfOpt = 0, OptIfName = 2, OptIfTsResol = 9, OptIfTsOffset = 14;

    private readonly byte[] _head = new byte[12];
    private readonly List<(ulong UnitsPerSecond, long OffsetSeconds)> _clocks = [];
    private bool _bigEndian;

    /// <summary>Reads the first section header from <paramref name="stream"/>.</summary>
    /// <exception cref="CaptureFormatException">Not a pcapng file, or its first block is broken.</exception>
    public PcapngReader(Stream stream, bool leaveOpen = false) : this(stream, leaveOpen, []) { }

    internal PcapngReader(Stream stream, bool leaveOpen, ReadOnlySpan<byte> consumed) : base(stream, leaveOpen, consumed.Length)
    {
        consumed.CopyTo(_head);
        if (!ReadRest(_head.AsSpan(consumed.Length)))
            throw new CaptureFormatException($"pcapng section header cut short at offset {Position}");
        if (BinaryPrimitives.ReadUInt32LittleEndian(_head) != SectionHeaderType)
            throw new CaptureFormatException($"not a pcapng file: first block type 0x{BinaryPrimitives.ReadUInt32BigEndian(_head):x8}");
        if (!ReadSection()) throw new CaptureFormatException($"pcapng section header cut short at offset {Position}");
    }

    /// <summary>The current section is big-endian.</summary>
    public bool IsBigEndian => _bigEndian;

    /// <inheritdoc/>
    public override bool TryReadNext(out CaptureRecord record)
    {
        record = default;
        while (true)
        {
            long start = Position;
            if (!ReadExactly(_head.AsSpan(0, 8))) return false;
            uint type = U32(_head, 0);
            if (type == SectionHeaderType)
            {
                if (!ReadRest(_head.AsSpan(8, 4)) || !ReadSection()) return false;
                continue;
            }
            uint total = U32(_head, 4);
            if (total < 12 || total % 4 != 0 || total > MaxBlockLength)
                throw new CaptureFormatException($"pcapng block of type {type} at offset {start}: bad block length {total}");
            int bodyLength = (int)total - 12;
            var buf = Buffer(bodyLength + 4);
            if (!ReadRest(buf.AsSpan(0, bodyLength + 4))) return false;
            if (U32(buf, bodyLength) != total)
                throw new CaptureFormatException($"pcapng block of type {type} at offset {start}: trailing length {U32(buf, bodyLength)} differs from {total}");
            var body = buf.AsSpan(0, bodyLength);
            switch (type)
            {
                case InterfaceDescriptionType:
                    ReadInterface(body, start);
                    continue;
                case EnhancedPacketType:
                case ObsoletePacketType:
                {
                    if (bodyLength < 20) throw Bad(type, start, $"body of {bodyLength} bytes is shorter than 20");
                    int iface = type == EnhancedPacketType ? (int)Math.Min(U32(buf, 0), int.MaxValue) : U16(buf, 0);
                    uint caplen = U32(buf, 12);
                    if (caplen > bodyLength - 20) throw Bad(type, start, $"captured length {caplen} exceeds the block");
                    ulong ts = (ulong)U32(buf, 4) << 32 | U32(buf, 8);
                    record = Record(iface, ts, U32(buf, 16), new ReadOnlyMemory<byte>(buf, 20, (int)caplen), type, start);
                    return true;
                }
                case SimplePacketType:
                {
                    if (bodyLength < 4) throw Bad(type, start, $"body of {bodyLength} bytes is shorter than 4");
                    if (Interfaces.Count == 0) throw Bad(type, start, "no interface described before it");
                    uint orig = U32(buf, 0);
                    // The captured length is implied: the original length, cut to the snap length and the block.
                    long caplen = Math.Min(orig, bodyLength - 4);
                    if (Interfaces[0].SnapLength > 0) caplen = Math.Min(caplen, Interfaces[0].SnapLength);
                    record = Record(0, 0, orig, new ReadOnlyMemory<byte>(buf, 4, (int)caplen), type, start); // no timestamp
                    return true;
                }
                default:
                    continue; // statistics, name resolution, custom, ... blocks
            }
        }
    }

    /// <summary>Reads the rest of a section header whose first 12 bytes are in <see cref="_head"/>; false when cut short.</summary>
    private bool ReadSection()
    {
        long start = Position - 12;
        uint bom = BinaryPrimitives.ReadUInt32LittleEndian(_head.AsSpan(8));
        if (bom == ByteOrderMagic) _bigEndian = false;
        else if (bom == BinaryPrimitives.ReverseEndianness(ByteOrderMagic)) _bigEndian = true;
        else throw new CaptureFormatException($"pcapng section header at offset {start}: bad byte-order magic 0x{bom:x8}");
        uint total = U32(_head, 4);
        if (total < 28 || total % 4 != 0 || total > MaxBlockLength)
            throw new CaptureFormatException($"pcapng section header at offset {start}: bad block length {total}");
        int rest = (int)total - 12;
        var buf = Buffer(rest);
        if (!ReadRest(buf.AsSpan(0, rest))) return false;
        if (U32(buf, rest - 4) != total)
            throw new CaptureFormatException($"pcapng section header at offset {start}: trailing length {U32(buf, rest - 4)} differs from {total}");
        int major = U16(buf, 0);
        if (major != 1) throw new CaptureFormatException($"pcapng section header at offset {start}: unsupported version {major}.{U16(buf, 2)}");
        ClearInterfaces();
        _clocks.Clear();
        return true;
    }

    private void ReadInterface(ReadOnlySpan<byte> body, long start)
    {
        if (body.Length < 8) throw Bad(InterfaceDescriptionType, start, $"body of {body.Length} bytes is shorter than 8");
        var linkType = (LinkType)U16(body, 0);
        int snap = (int)Math.Min(U32(body, 4), int.MaxValue);
        string? name = null;
        ulong units = 1_000_000; // if_tsresol absent: microseconds
        long offset = 0;
        for (int at = 8; at + 4 <= body.Length;)
        {
            ushort code = U16(body, at), len = U16(body, at + 2);
            if (code == OptEndOfOpt) break;
            if (at + 4 + len > body.Length) throw Bad(InterfaceDescriptionType, start, $"option {code} of {len} bytes runs past the block");
            var value = body.Slice(at + 4, len);
            switch (code)
            {
                case OptIfName:
                    name = Encoding.UTF8.GetString(value.TrimEnd((byte)0));
                    break;
                case OptIfTsResol when len >= 1:
                    units = UnitsPerSecond(value[0], start);
                    break;
                case OptIfTsOffset when len >= 8:
                    offset = _bigEndian ? BinaryPrimitives.ReadInt64BigEndian(value) : BinaryPrimitives.ReadInt64LittleEndian(value);
                    break;
            }
            at += 4 + ((len + 3) & ~3);
        }
        AddInterface(new CaptureInterface(linkType, snap, name));
        _clocks.Add((units, offset));
    }

    private static ulong UnitsPerSecond(byte tsresol, long start)
    {
        int exp = tsresol & 0x7f;
        if ((tsresol & 0x80) != 0)
            return exp < 64 ? 1UL << exp : throw Bad(InterfaceDescriptionType, start, $"if_tsresol 0x{tsresol:x2} is out of range");
        if (exp > 19) throw Bad(InterfaceDescriptionType, start, $"if_tsresol {exp} is out of range");
        ulong u = 1;
        for (int i = 0; i < exp; i++) u *= 10;
        return u;
    }

    private CaptureRecord Record(int iface, ulong ts, uint orig, ReadOnlyMemory<byte> data, uint type, long start)
    {
        if (iface >= Interfaces.Count) throw Bad(type, start, $"interface {iface} was not described (section has {Interfaces.Count})");
        var info = Interfaces[iface];
        var (units, offset) = _clocks[iface];
        RecordCount++;
        return new CaptureRecord
        {
            TimestampNanoseconds = (long)((UInt128)ts * 1_000_000_000 / units) + offset * 1_000_000_000,
            InterfaceIndex = iface,
            InterfaceName = info.Name,
            LinkType = info.LinkType,
            OriginalLength = (int)Math.Min(orig, int.MaxValue),
            Data = data,
            Link = LinkHeader.Decode(info.LinkType, data.Span),
        };
    }

    private static CaptureFormatException Bad(uint type, long start, string problem) =>
        new($"pcapng block of type {type} at offset {start}: {problem}");

    private uint U32(ReadOnlySpan<byte> b, int at) => _bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(b[at..]) : BinaryPrimitives.ReadUInt32LittleEndian(b[at..]);
    private ushort U16(ReadOnlySpan<byte> b, int at) => _bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(b[at..]) : BinaryPrimitives.ReadUInt16LittleEndian(b[at..]);
}
