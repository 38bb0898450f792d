using System.Buffers.Binary;

namespace SharpTables.Packets.Capture;

/// <summary>
/// Reads classic pcap files (libpcap format, either byte order, micro- or nanosecond magic):
/// <code>
/// file header (24): magic(4) version_major(2)=2 version_minor(2)=4 thiszone(4) sigfigs(4) snaplen(4) linktype(4)
/// record header (16): ts_sec(4) ts_usec_or_nsec(4) incl_len(4) orig_len(4), then incl_len bytes
/// </code>
/// </summary>
public sealed class PcapReader : CaptureReader
{
    /// <summary>The magic numbers as they read in the file's own byte order.</summary>
    public const uint MicrosecondMagic = 0xa1b2c3d4, NanosecondMagic = 0xa1b23c4d;

    private const int FileHeaderLength = 24, RecordHeaderLength = 16;
    private readonly bool _bigEndian;
    private readonly byte[] _header = new byte[FileHeaderLength];
    private readonly int _maxRecord;
    private readonly LinkType _linkType;

    /// <summary>Reads the file header from <paramref name="stream"/>.</summary>
    /// <exception cref="CaptureFormatException">Not a pcap file, or its header is cut short.</exception>
    public PcapReader(Stream stream, bool leaveOpen = false) : this(stream, leaveOpen, []) { }

    internal PcapReader(Stream stream, bool leaveOpen, ReadOnlySpan<byte> consumed) : base(stream, leaveOpen, consumed.Length)
    {
        consumed.CopyTo(_header);
        if (!ReadRest(_header.AsSpan(consumed.Length)))
            throw new CaptureFormatException($"pcap file header cut short: {Position} of {FileHeaderLength} bytes");
        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(_header);
        if (!IsMagic(magic)) throw new CaptureFormatException($"not a pcap file: magic 0x{BinaryPrimitives.ReadUInt32BigEndian(_header):x8}");
        _bigEndian = magic is 0xd4c3b2a1 or 0x4d3cb2a1;
        IsNanosecond = U32(0) == NanosecondMagic;
        int major = U16(4);
        if (major != 2) throw new CaptureFormatException($"unsupported pcap version {major}.{U16(6)}");
        int snap = (int)Math.Min(U32(16), int.MaxValue);
        // The top bits of the link type field carry FCS information (LT_LINKTYPE).
        _linkType = (LinkType)(U32(20) & 0x03ffffff);
        _maxRecord = Math.Clamp(snap, DefaultMaxRecordLength, MaxBlockLength);
        AddInterface(new CaptureInterface(_linkType, snap, null));
    }

    /// <summary>Timestamps are in nanoseconds (magic 0xa1b23c4d) rather than microseconds.</summary>
    public bool IsNanosecond { get; }
    /// <summary>The file is big-endian.</summary>
    public bool IsBigEndian => _bigEndian;
    /// <summary>The link type of every record.</summary>
    public LinkType LinkType => _linkType;

    internal static bool IsMagic(uint littleEndianValue) =>
        littleEndianValue is MicrosecondMagic or NanosecondMagic or 0xd4c3b2a1 or 0x4d3cb2a1;

    /// <inheritdoc/>
    public override bool TryReadNext(out CaptureRecord record)
    {
        record = default;
        var h = _header.AsSpan(0, RecordHeaderLength);
        if (!ReadExactly(h)) return false;
        uint sec = U32(0), frac = U32(4), incl = U32(8), orig = U32(12);
        if (incl > _maxRecord)
            throw new CaptureFormatException($"pcap record {RecordCount + 1} at offset {Position - RecordHeaderLength}: captured length {incl} exceeds the maximum {_maxRecord}");
        var buf = Buffer((int)incl);
        if (!ReadRest(buf.AsSpan(0, (int)incl))) return false;
        RecordCount++;
        var data = new ReadOnlyMemory<byte>(buf, 0, (int)incl);
        record = new CaptureRecord
        {
            TimestampNanoseconds = sec * 1_000_000_000L + (IsNanosecond ? frac : frac * 1000L),
            LinkType = _linkType,
            OriginalLength = (int)Math.Min(orig, int.MaxValue),
            Data = data,
            Link = LinkHeader.Decode(_linkType, data.Span),
        };
        return true;
    }

    private uint U32(int at) => _bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(_header.AsSpan(at)) : BinaryPrimitives.ReadUInt32LittleEndian(_header.AsSpan(at));
    private ushort U16(int at) => _bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(_header.AsSpan(at)) : BinaryPrimitives.ReadUInt16LittleEndian(_header.AsSpan(at));
}
