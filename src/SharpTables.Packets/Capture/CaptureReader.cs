using System.Buffers.Binary;

namespace SharpTables.Packets.Capture;

/// <summary>A capture interface: its link type and what the file says about it.</summary>
/// <param name="LinkType">The link-layer header type of its packets.</param>
/// <param name="SnapLength">The snapshot length (0 = unlimited).</param>
/// <param name="Name">if_name (pcapng), or null.</param>
public sealed record CaptureInterface(LinkType LinkType, int SnapLength, string? Name);

/// <summary>
/// Reads packets from a pcap or pcapng stream one record at a time, without loading the file:
/// each record's bytes land in one buffer that is reused for the next record, so reading
/// allocates nothing per packet. A file cut short ends the read with <see cref="IsTruncated"/>
/// set; a structure that cannot be right (bad magic, impossible lengths) raises
/// <see cref="CaptureFormatException"/>.
/// </summary>
public abstract class CaptureReader : IDisposable
{
    /// <summary>libpcap's MAXIMUM_SNAPLEN: a record may be longer only when the file's snapshot length says so.</summary>
    public const int DefaultMaxRecordLength = 262144;
    /// <summary>No record or block is accepted beyond this size (16 MiB).</summary>
    public const int MaxBlockLength = 16 << 20;

    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private byte[] _buffer = new byte[2048];
    private readonly List<CaptureInterface> _interfaces = [];

    /// <param name="stream">The capture, positioned after <paramref name="consumed"/> bytes already read from it.</param>
    private protected CaptureReader(Stream stream, bool leaveOpen, int consumed)
    {
        _stream = stream;
        _leaveOpen = leaveOpen;
        Position = consumed;
    }

    /// <summary>The interfaces seen so far (pcap: the one from the file header; pcapng: the current section's).</summary>
    public IReadOnlyList<CaptureInterface> Interfaces => _interfaces;
    /// <summary>The stream ended inside a record or block: the file was cut short. The records before it were returned.</summary>
    public bool IsTruncated { get; private set; }
    /// <summary>Bytes consumed from the stream so far (for messages and diagnostics).</summary>
    public long Position { get; private set; }
    /// <summary>Records returned so far.</summary>
    public long RecordCount { get; private protected set; }

    /// <summary>
    /// Reads the next packet. Returns false at the end of the file (or where it was cut short,
    /// see <see cref="IsTruncated"/>). <paramref name="record"/>'s data is valid until the next call.
    /// </summary>
    /// <exception cref="CaptureFormatException">The file's structure is broken at this point.</exception>
    public abstract bool TryReadNext(out CaptureRecord record);

    /// <summary>Opens a pcap or pcapng stream, telling the two apart by their first four bytes.</summary>
    /// <exception cref="CaptureFormatException">The stream is neither.</exception>
    public static CaptureReader Open(Stream stream, bool leaveOpen = false)
    {
        Span<byte> magic = stackalloc byte[4];
        int n = stream.ReadAtLeast(magic, 4, throwOnEndOfStream: false);
        if (n < 4) throw new CaptureFormatException($"not a capture file: only {n} bytes");
        uint m = BinaryPrimitives.ReadUInt32LittleEndian(magic);
        if (PcapReader.IsMagic(m)) return new PcapReader(stream, leaveOpen, magic);
        if (m == PcapngReader.SectionHeaderType) return new PcapngReader(stream, leaveOpen, magic);
        throw new CaptureFormatException($"not a pcap or pcapng file: magic 0x{BinaryPrimitives.ReadUInt32BigEndian(magic):x8}");
    }

    /// <summary>Opens a capture file for sequential reading.</summary>
    public static CaptureReader Open(string path) =>
        Open(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan));

    /// <summary>Closes the stream unless the reader was told to leave it open.</summary>
    public void Dispose()
    {
        if (!_leaveOpen) _stream.Dispose();
        GC.SuppressFinalize(this);
    }

    private protected void AddInterface(CaptureInterface i) => _interfaces.Add(i);
    private protected void ClearInterfaces() => _interfaces.Clear();

    /// <summary>The reused buffer, grown to at least <paramref name="length"/> bytes.</summary>
    private protected byte[] Buffer(int length)
    {
        if (_buffer.Length < length) _buffer = new byte[Math.Max(length, _buffer.Length * 2)];
        return _buffer;
    }

    /// <summary>
    /// Fills <paramref name="destination"/> from the stream. Returns false at a clean end of
    /// stream (nothing read); when only part could be read, marks the file truncated and returns false.
    /// </summary>
    private protected bool ReadExactly(Span<byte> destination)
    {
        int n = _stream.ReadAtLeast(destination, destination.Length, throwOnEndOfStream: false);
        Position += n;
        if (n == destination.Length) return true;
        if (n > 0) IsTruncated = true;
        return false;
    }

    /// <summary>Like <see cref="ReadExactly"/> but an end of stream before any byte also counts as truncation.</summary>
    private protected bool ReadRest(Span<byte> destination)
    {
        if (ReadExactly(destination)) return true;
        IsTruncated = true;
        return false;
    }
}
