using System.Buffers.Binary;
using System.Text;

namespace SharpTables.Packets.Capture;

/// <summary>
/// Writes pcapng files (see <see cref="PcapngReader"/>): one section header, then interface
/// descriptions (link type, snap length, if_name, if_tsresol) and Enhanced or Simple Packet
/// blocks, in little- or big-endian byte order.
/// </summary>
public sealed class PcapngWriter : IDisposable
{
    private readonly Stream _stream;
    private readonly bool _leaveOpen, _bigEndian;
    private readonly byte[] _block = new byte[64];
    private readonly List<(ulong UnitsPerSecond, int SnapLength)> _interfaces = [];

    /// <summary>Writes the section header block to <paramref name="stream"/>.</summary>
    public PcapngWriter(Stream stream, bool bigEndian = false, bool leaveOpen = false)
    {
        _stream = stream;
        _bigEndian = bigEndian;
        _leaveOpen = leaveOpen;
        var b = _block.AsSpan(0, 28);
        U32(b, PcapngReader.SectionHeaderType);
        U32(b[4..], 28);
        U32(b[8..], 0x1a2b3c4d);
        U16(b[12..], 1);
        U16(b[14..], 0);
        U32(b[16..], uint.MaxValue); // section length -1: not given
        U32(b[20..], uint.MaxValue);
        U32(b[24..], 28);
        _stream.Write(b);
    }

    /// <summary>
    /// Describes an interface and returns its index for <see cref="WritePacket"/>.
    /// <paramref name="timestampResolution"/> is if_tsresol as a power of ten (6 = microseconds, 9 = nanoseconds).
    /// </summary>
    public int AddInterface(LinkType linkType, string? name = null, int snapLength = 0, byte timestampResolution = 9)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(timestampResolution, (byte)9);
        ArgumentOutOfRangeException.ThrowIfNegative(snapLength);
        byte[] nameBytes = name is null ? [] : Encoding.UTF8.GetBytes(name);
        int nameOption = name is null ? 0 : 4 + Pad4(nameBytes.Length);
        int total = 12 + 8 + nameOption + 8 /* if_tsresol */ + 4 /* opt_endofopt */;
        var b = total <= _block.Length ? _block.AsSpan(0, total) : new byte[total];
        b.Clear();
        U32(b, 1);
        U32(b[4..], (uint)total);
        U16(b[8..], (ushort)linkType);
        U32(b[12..], (uint)snapLength);
        int at = 16;
        if (name is not null)
        {
            U16(b[at..], 2);
            U16(b[(at + 2)..], (ushort)nameBytes.Length);
            nameBytes.CopyTo(b[(at + 4)..]);
            at += nameOption;
        }
        U16(b[at..], 9);
        U16(b[(at + 2)..], 1);
        b[at + 4] = timestampResolution;
        at += 8 + 4; // the option, then opt_endofopt (already zero)
        U32(b[at..], (uint)total);
        _stream.Write(b);
        ulong units = 1;
        for (int i = 0; i < timestampResolution; i++) units *= 10;
        _interfaces.Add((units, snapLength));
        return _interfaces.Count - 1;
    }

    /// <summary>Appends an Enhanced Packet Block; <paramref name="originalLength"/> defaults to the data length.</summary>
    public void WritePacket(int interfaceIndex, long timestampNanoseconds, ReadOnlySpan<byte> data, int originalLength = -1)
    {
        var (units, snap) = _interfaces[interfaceIndex];
        int caplen = snap > 0 ? Math.Min(data.Length, snap) : data.Length;
        ulong ts = (ulong)((Int128)timestampNanoseconds * (Int128)units / 1_000_000_000);
        int total = 28 + Pad4(caplen) + 4;
        var b = _block.AsSpan(0, 28);
        U32(b, 6);
        U32(b[4..], (uint)total);
        U32(b[8..], (uint)interfaceIndex);
        U32(b[12..], (uint)(ts >> 32));
        U32(b[16..], (uint)ts);
        U32(b[20..], (uint)caplen);
        U32(b[24..], (uint)(originalLength < 0 ? data.Length : originalLength));
        _stream.Write(b);
        WriteData(data[..caplen], total);
    }

    /// <summary>Appends a Simple Packet Block (no timestamp; interface 0, which must exist).</summary>
    public void WriteSimplePacket(ReadOnlySpan<byte> data, int originalLength = -1)
    {
        if (_interfaces.Count == 0) throw new InvalidOperationException("a simple packet block needs interface 0: call AddInterface first");
        int snap = _interfaces[0].SnapLength;
        int caplen = snap > 0 ? Math.Min(data.Length, snap) : data.Length;
        int total = 12 + Pad4(caplen) + 4;
        var b = _block.AsSpan(0, 12);
        U32(b, 3);
        U32(b[4..], (uint)total);
        U32(b[8..], (uint)(originalLength < 0 ? data.Length : originalLength));
        _stream.Write(b);
        WriteData(data[..caplen], total);
    }

    /// <summary>Flushes the stream.</summary>
    public void Flush() => _stream.Flush();

    /// <summary>Flushes, and closes the stream unless told to leave it open.</summary>
    public void Dispose()
    {
        _stream.Flush();
        if (!_leaveOpen) _stream.Dispose();
    }

    /// <summary>Writes the packet bytes, zero padding to 4, no options, and the trailing total length.</summary>
    private void WriteData(ReadOnlySpan<byte> data, int total)
    {
        _stream.Write(data);
        var tail = _block.AsSpan(0, Pad4(data.Length) - data.Length + 4);
        tail.Clear();
        U32(tail[^4..], (uint)total);
        _stream.Write(tail);
    }

    private static int Pad4(int n) => (n + 3) & ~3;

    private void U32(Span<byte> b, uint v)
    {
        if (_bigEndian) BinaryPrimitives.WriteUInt32BigEndian(b, v); else BinaryPrimitives.WriteUInt32LittleEndian(b, v);
    }

    private void U16(Span<byte> b, ushort v)
    {
        if (_bigEndian) BinaryPrimitives.WriteUInt16BigEndian(b, v); else BinaryPrimitives.WriteUInt16LittleEndian(b, v);
    }
}
