namespace SharpTables.Daemon;

/// <summary>
/// Source addresses that must wait for the kernel's routing decision. A packet diverted at
/// PREROUTING is judged by the engine all the way to POSTROUTING (or INPUT) at once, but the
/// kernel routes it only after the verdict, and ip_route_input drops a packet whose source is
/// one of the host's own addresses (a martian), or fails rp_filter with any other new source.
/// So when the engine rewrote the source (SNAT, MASQUERADE, the reply of a DNAT connection, SNAT
/// in nat INPUT) the packet goes back with its original source address and a ticket in its mark
/// (<see cref="Base"/> | slot); the diversion queues marked packets again at INPUT and POSTROUTING —
/// where the kernel's own source NAT runs — and <see cref="TryTake"/> gives the final source and the
/// engine's mark to put in. Slots are reused round-robin; a slot overwritten before its packet came
/// back (65,536 later tickets) no longer matches the packet and the packet is dropped.
/// Thread-safe (the workers of several queues share one table: --queue-balance may hash the two
/// passes of a packet to different queues).
/// </summary>
public sealed class SourceTickets
{
    /// <summary>The marks of ticketed packets: 0x5355xxxx (next to <see cref="Diversion.BypassMark"/>).</summary>
    public const uint Base = 0x53550000, Mask = 0xffff0000;
    private const int Slots = 1 << 16;

    private Entry[]? _entries;
    private uint _next;
    private readonly object _lock = new();

    private struct Entry
    {
        public UInt128 Source, Destination, FinalSource;
        public uint Mark;
        public byte Version, Protocol;
        public bool Used;
    }

    /// <summary>Whether <paramref name="mark"/> is a ticket.</summary>
    public static bool IsTicket(uint mark) => (mark & Mask) == Base;

    /// <summary>
    /// Remembers that the packet from <paramref name="source"/> to <paramref name="destination"/>
    /// must leave with <paramref name="finalSource"/> and <paramref name="mark"/>; returns the ticket
    /// to put in its mark.
    /// </summary>
    public uint Issue(byte version, byte protocol, UInt128 source, UInt128 destination, UInt128 finalSource, uint mark)
    {
        lock (_lock)
        {
            // 65,536 slots of 64 bytes: allocated once, when the first source rewrite happens.
            var entries = _entries ??= new Entry[Slots];
            uint slot = _next++ & (Slots - 1);
            entries[slot] = new Entry
            {
                Source = source, Destination = destination, FinalSource = finalSource,
                Mark = mark, Version = version, Protocol = protocol, Used = true,
            };
            return Base | slot;
        }
    }

    /// <summary>
    /// The final source and mark of a packet that came back with <paramref name="ticket"/>, when the
    /// ticket's slot still describes this packet (addresses and protocol as they were handed back);
    /// the slot is freed. False for an unknown or reused ticket.
    /// </summary>
    public bool TryTake(uint ticket, byte version, byte protocol, UInt128 source, UInt128 destination, out UInt128 finalSource, out uint mark)
    {
        lock (_lock)
        {
            finalSource = 0;
            mark = 0;
            if (_entries == null || !IsTicket(ticket)) return false;
            ref var e = ref _entries[ticket & (Slots - 1)];
            if (!e.Used || e.Version != version || e.Protocol != protocol || e.Source != source || e.Destination != destination)
                return false;
            e.Used = false;
            finalSource = e.FinalSource;
            mark = e.Mark;
            return true;
        }
    }
}
