using System.Buffers.Binary;
using SharpTables.Packets;

namespace SharpTables.Engine.Conntrack;

/// <summary>
/// IPv4 and IPv6 reassembly as conntrack's defrag hooks do it (ip_defrag / nf_ct_frag6_gather):
/// fragments are held per datagram until all data is there, then the whole datagram continues
/// in place of the last fragment. A datagram with overlapping fragments is discarded (RFC 5722;
/// Linux does the same for IPv4). Buffers are pooled per queue slot; nothing is allocated once
/// the slots exist.
/// </summary>
internal sealed class Defragmenter(int maxQueues)
{
    private const uint Ipv4Timeout = 30 * EngineClock.Hz, Ipv6Timeout = 60 * EngineClock.Hz;
    private const int MaxRanges = 64;

    private sealed class Queue
    {
        public bool Used;
        public byte Version, Protocol;
        public UInt128 Source, Destination;
        public uint Id;
        public uint Expires;
        /// <summary>The unfragmentable part (IPv4 header, or IPv6 header + extension headers before the fragment header).</summary>
        public readonly byte[] Header = new byte[60 + 40 + 256];
        public int HeaderLength;
        /// <summary>Offset in <see cref="Header"/> of the next-header byte that points at the fragment header (IPv6).</summary>
        public int NextHeaderField;
        public byte FragmentNextHeader;
        public readonly byte[] Data = new byte[65536];
        /// <summary>Length of the datagram's payload once the last fragment was seen; -1 before.</summary>
        public int Total;
        public readonly (int Start, int End)[] Ranges = new (int, int)[MaxRanges];
        public int RangeCount;
    }

    private readonly Queue?[] _queues = new Queue?[Math.Max(1, maxQueues)];
    private readonly Lock _lock = new();

    /// <summary>
    /// True when the packet goes on (not a fragment, or the datagram is now complete in <paramref name="p"/>);
    /// false when held or discarded. Fragments of concurrent packets are gathered one at a time.
    /// </summary>
    public bool Process(Packet p, uint now)
    {
        ref readonly var info = ref p.Info;
        bool fragment = info.Version == 4 ? (info.Flags & (PacketFlags.MoreFragments | PacketFlags.Fragment)) != 0
            : info.Version == 6 && (info.Flags & PacketFlags.HasFragmentHeader) != 0;
        if (!fragment) return true;
        lock (_lock) return Gather(p, now);
    }

    private bool Gather(Packet p, uint now)
    {
        ref readonly var info = ref p.Info;
        if (info.Version == 4)
        {
            if ((info.Flags & (PacketFlags.MoreFragments | PacketFlags.Fragment)) == 0) return true;
            if ((info.Flags & PacketFlags.BadNetworkHeader) != 0) return true;
            int hl = info.HeaderLength;
            int end = Math.Min(p.Length, info.TotalLength);
            if (end < hl) return false;
            var q = Find(4, info.Protocol, info.Source, info.Destination, info.Id, now, Ipv4Timeout);
            if (q == null) return false;
            if (info.FragmentOffset == 0)
            {
                p.Bytes[..hl].CopyTo(q.Header);
                q.HeaderLength = hl;
            }
            return Add(q, p, p.Bytes[hl..end], info.FragmentOffset * 8, (info.Flags & PacketFlags.MoreFragments) != 0);
        }
        if (info.Version == 6 && (info.Flags & PacketFlags.HasFragmentHeader) != 0)
        {
            if (!FindFragmentHeader(p.Bytes, out int fragOff, out int nextField)) return true;
            var b = p.Bytes;
            ushort fo = BinaryPrimitives.ReadUInt16BigEndian(b[(fragOff + 2)..]);
            bool more = (fo & 1) != 0;
            int offset = (fo >> 3) * 8;
            // an atomic fragment (offset 0, no more) is not reassembled
            if (offset == 0 && !more) return true;
            int end = Math.Min(p.Length, info.TotalLength);
            if (end < fragOff + 8) return false;
            uint id = BinaryPrimitives.ReadUInt32BigEndian(b[(fragOff + 4)..]);
            var q = Find(6, b[fragOff], info.Source, info.Destination, id, now, Ipv6Timeout);
            if (q == null) return false;
            if (offset == 0)
            {
                if (fragOff > q.Header.Length) return false;
                b[..fragOff].CopyTo(q.Header);
                q.HeaderLength = fragOff;
                q.NextHeaderField = nextField;
                q.FragmentNextHeader = b[fragOff];
            }
            return Add(q, p, b[(fragOff + 8)..end], offset, more);
        }
        return true;
    }

    private Queue? Find(byte version, byte protocol, UInt128 src, UInt128 dst, uint id, uint now, uint timeout)
    {
        int free = -1, oldest = -1;
        for (int i = 0; i < _queues.Length; i++)
        {
            var q = _queues[i];
            if (q == null || !q.Used || (int)(q.Expires - now) <= 0)
            {
                if (q != null) q.Used = false;
                if (free < 0) free = i;
                continue;
            }
            if (q.Version == version && q.Id == id && q.Source == src && q.Destination == dst && (version == 6 || q.Protocol == protocol))
                return q;
            if (oldest < 0 || (int)(q.Expires - _queues[oldest]!.Expires) < 0) oldest = i;
        }
        int slot = free >= 0 ? free : oldest; // over the limit the oldest datagram is evicted (ip_evictor)
        var n = _queues[slot] ??= new Queue();
        n.Used = true;
        n.Version = version;
        n.Protocol = protocol;
        n.Source = src;
        n.Destination = dst;
        n.Id = id;
        n.Expires = unchecked(now + timeout);
        n.HeaderLength = 0;
        n.Total = -1;
        n.RangeCount = 0;
        return n;
    }

    private static bool Add(Queue q, Packet p, ReadOnlySpan<byte> data, int offset, bool more)
    {
        int end = offset + data.Length;
        if (end > 65535 - q.HeaderLength || (more && data.Length == 0)) return Discard(q);
        if (!more)
        {
            if (q.Total >= 0 && q.Total != end) return Discard(q);
            for (int i = 0; i < q.RangeCount; i++) if (q.Ranges[i].End > end) return Discard(q);
            q.Total = end;
        }
        else if (q.Total >= 0 && end > q.Total) return Discard(q);
        for (int i = 0; i < q.RangeCount; i++)
        {
            var (s, e) = q.Ranges[i];
            if (s == offset && e == end) return false; // exact duplicate: ignored
            if (offset < e && s < end) return Discard(q);
        }
        if (q.RangeCount == MaxRanges) return Discard(q);
        q.Ranges[q.RangeCount++] = (offset, end);
        data.CopyTo(q.Data.AsSpan(offset));

        if (q.Total < 0 || q.HeaderLength == 0) return false;
        int covered = 0;
        for (int i = 0; i < q.RangeCount; i++) covered += q.Ranges[i].End - q.Ranges[i].Start;
        if (covered != q.Total) return false;

        // Complete: the reassembled datagram replaces the packet.
        int hl = q.HeaderLength;
        var buf = p.Buffer;
        q.Header.AsSpan(0, hl).CopyTo(buf);
        q.Data.AsSpan(0, q.Total).CopyTo(buf.AsSpan(hl));
        p.Length = hl + q.Total;
        if (q.Version == 4)
        {
            BinaryPrimitives.WriteUInt16BigEndian(buf.AsSpan(2), (ushort)p.Length);
            BinaryPrimitives.WriteUInt16BigEndian(buf.AsSpan(6), (ushort)(BinaryPrimitives.ReadUInt16BigEndian(buf.AsSpan(6)) & 0x4000));
            Checksum.Compute(buf.AsSpan(0, hl), 10, 0);
        }
        else
        {
            buf[q.NextHeaderField] = q.FragmentNextHeader;
            BinaryPrimitives.WriteUInt16BigEndian(buf.AsSpan(4), (ushort)(p.Length - 40));
        }
        q.Used = false;
        p.Reparse();
        return true;
    }

    private static bool Discard(Queue q)
    {
        q.Used = false;
        return false;
    }

    /// <summary>Walks the IPv6 extension headers to the fragment header; <paramref name="nextField"/> is the byte naming it.</summary>
    private static bool FindFragmentHeader(ReadOnlySpan<byte> b, out int fragOff, out int nextField)
    {
        fragOff = 40;
        nextField = 6;
        for (int guard = 0; guard < 32 && fragOff + 8 <= b.Length; guard++)
        {
            byte next = b[nextField];
            switch (next)
            {
                case IpProtocol.Fragment:
                    return true;
                case IpProtocol.HopByHop:
                case IpProtocol.Routing:
                case IpProtocol.DestinationOptions:
                    nextField = fragOff;
                    fragOff += (b[fragOff + 1] + 1) * 8;
                    continue;
                default:
                    return false;
            }
        }
        return false;
    }
}
