using System.Buffers.Binary;

namespace SharpTables.Packets.Capture;

/// <summary>
/// Writes classic pcap files (see <see cref="PcapReader"/> for the layout): one link type,
/// micro- or nanosecond timestamps, little- or big-endian. Packets longer than the snapshot
/// length are cut to it, with the original length recorded.
/// </summary>
public sealed class PcapWriter : IDisposable
{
    private readonly Stream _stream;
    private readonly bool _leaveOpen, _bigEndian, _nanosecond;
    private readonly int _snapLength;
    private readonly byte[] _header = new byte[24];

    /// <summary>Writes the file header to <paramref name="stream"/>.</summary>
    public PcapWriter(Stream stream, LinkType linkType, bool nanosecond = false, int snapLength = CaptureReader.DefaultMaxRecordLength,
        bool bigEndian = false, bool leaveOpen = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(snapLength);
        _stream = stream;
        _leaveOpen = leaveOpen;
        _bigEndian = bigEndian;
        _nanosecond = nanosecond;
        _snapLength = snapLength;
        var h = _header.AsSpan();
        h.Clear();
        U32(h, nanosecond ? PcapReader.NanosecondMagic : PcapReader.MicrosecondMagic);
        U16(h[4..], 2);
        U16(h[6..], 4);
        U32(h[16..], (uint)snapLength);
        U32(h[20..], (uint)linkType);
        _stream.Write(h);
    }

    /// <summary>Appends a packet; <paramref name="originalLength"/> defaults to the data length.</summary>
    public void Write(long timestampNanoseconds, ReadOnlySpan<byte> data, int originalLength = -1)
    {
        int caplen = Math.Min(data.Length, _snapLength);
        long sec = Math.DivRem(timestampNanoseconds, 1_000_000_000, out long ns);
        if (ns < 0) { ns += 1_000_000_000; sec--; }
        var h = _header.AsSpan(0, 16);
        U32(h, (uint)sec);
        U32(h[4..], (uint)(_nanosecond ? ns : ns / 1000));
        U32(h[8..], (uint)caplen);
        U32(h[12..], (uint)(originalLength < 0 ? data.Length : originalLength));
        _stream.Write(h);
        _stream.Write(data[..caplen]);
    }

    /// <summary>Flushes the stream.</summary>
    public void Flush() => _stream.Flush();

    /// <summary>Flushes, and closes the stream unless told to leave it open.</summary>
    public void Dispose()
    {
        _stream.Flush();
        if (!_leaveOpen) _stream.Dispose();
    }

    private void U32(Span<byte> b, uint v)
    {
        if (_bigEndian) BinaryPrimitives.WriteUInt32BigEndian(b, v); else BinaryPrimitives.WriteUInt32LittleEndian(b, v);
    }

    private void U16(Span<byte> b, ushort v)
    {
        if (_bigEndian) BinaryPrimitives.WriteUInt16BigEndian(b, v); else BinaryPrimitives.WriteUInt16LittleEndian(b, v);
    }
}
