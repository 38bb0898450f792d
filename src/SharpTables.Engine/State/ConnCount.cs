using SharpTables.Engine.Conntrack;
using SharpTables.Packets;

namespace SharpTables.Engine.State;

/// <summary>
/// nf_conncount as Linux 6.18 (stable) runs it for one connlimit rule: per key (masked address
/// and conntrack zone) a list of the conntrack tuples counted so far. A packet's connection is
/// added to its key's list unless it is already there, and entries whose connection is gone,
/// expired or closed (TCP TIME_WAIT/CLOSE) are dropped while the list is walked. Details kept
/// from the kernel, which the oracle confirms:
/// <list type="bullet">
/// <item>a confirmed connection is still counted when it is not in the list yet, unless it is
/// ASSURED: then nothing is added, the list is only cleaned, and a list that cleaning empties
/// counts 0, which makes connlimit drop the packet;</item>
/// <item>a list already walked in the current jiffy takes new (unconfirmed) connections without
/// walking it again, until 64 have been added that way;</item>
/// <item>a packet that has no conntrack entry yet (connlimit in raw PREROUTING or OUTPUT) is
/// counted by its own tuple, and the entry conntrack has for that tuple, in either direction,
/// stands in for its own. So a packet of an ASSURED connection adds nothing there either, and one
/// whose connection is already in TIME_WAIT finds it closed, counts 0 and is dropped;</item>
/// <item>a tuple that nothing tracks is dropped again by the next walk.</item>
/// </list>
/// The kernel's rb-trees (256 slots, random hash) become a dictionary plus 256 slot chains that
/// only steer which empty lists are freed when a new key is inserted. A listed connection is
/// looked up by its tuple in the conntrack table on every walk, as find_or_evict does (the entry
/// that made it may be long gone, or a new one may carry the same tuple). One CPU is assumed: an
/// entry whose connection cannot be found is dropped at once. Arrays grow by doubling and are
/// reused, so the packet path allocates only when a rule sees more keys or connections than ever
/// before.
/// </summary>
public sealed class ConnCount(EngineClock clock, ConntrackTable conntrack)
{
    private const int Slots = 256, GcMaxNodes = 8, GcMaxCollect = 64;

    /// <summary>One key's list (struct nf_conncount_rb with its nf_conncount_list).</summary>
    private struct Node
    {
        public Key Key;
        public int Head, Tail; // conn indexes, -1 = none
        public uint Count;
        public uint LastGc, LastGcCount;
        public int SlotNext;
    }

    /// <summary>One counted connection (struct nf_conncount_tuple).</summary>
    private struct Conn
    {
        public ConnTuple Tuple;
        public ushort Zone;
        public int Next;
    }

    private readonly record struct Key(UInt128 Address, ushort Zone);

    private readonly EngineClock _clock = clock;
    private readonly Lock _lock = new();
    private readonly Dictionary<Key, int> _index = new();
    private readonly int[] _slotHead = NewFilled(Slots);
    private Node[] _nodes = new Node[8];
    private Conn[] _conns = new Conn[16];
    private int _nodeFree = -1, _nodeUsed, _connFree = -1, _connUsed;

    private static int[] NewFilled(int n)
    {
        var a = new int[n];
        Array.Fill(a, -1);
        return a;
    }

    /// <summary>Connections counted for a key now (without cleaning the list), 0 when it has none.</summary>
    public uint CountFor(UInt128 address, ushort zone = 0)
    {
        lock (_lock) return _index.TryGetValue(new Key(address, zone), out int n) ? _nodes[n].Count : 0;
    }

    /// <summary>
    /// nf_conncount_count_skb: counts <paramref name="p"/>'s connection under the key and returns
    /// the key's connection count; 0 means the packet cannot be counted (connlimit hot-drops it).
    /// </summary>
    public uint Count(Packet p, UInt128 address)
    {
        // get_ct_or_tuple_from_skb: the packet's own entry and its original tuple, or else the
        // packet's tuple and the entry conntrack has for it (raw PREROUTING runs before conntrack).
        Connection? ct = p.Conn;
        ConnTuple tuple;
        ushort zone;
        if (ct != null)
        {
            tuple = ct.Original;
            zone = ct.Zone;
        }
        else
        {
            if (!ConntrackTable.TryGetTuple(p, out tuple)) return 0;
            zone = p.Zone;
            ct = conntrack.Find(tuple, zone, out _);
        }
        var key = new Key(address, zone);
        lock (_lock)
        {
            uint now = (uint)_clock.Jiffies;
            if (!_index.TryGetValue(key, out int n))
                return InsertNode(key, tuple, zone, now);
            if (_nodes[n].Count == 0)
            {
                // count_tree defers an emptied list to insert_tree, which finds the node and adds to it.
                CollectSlot(SlotOf(key), n, now);
                Add(n, tuple, ct, zone, now);
                return _nodes[n].Count;
            }
            if (!Add(n, tuple, ct, zone, now)) GcList(n, now);
            return _nodes[n].Count;
        }
    }

    private static int SlotOf(Key key)
    {
        ulong x = (ulong)key.Address ^ (ulong)(key.Address >> 64) ^ key.Zone;
        x ^= x >> 32;
        x ^= x >> 16;
        return (int)(x & (Slots - 1));
    }

    /// <summary>insert_tree for a key without a list: cleans lists of the same slot, then starts this key's list with the packet's connection.</summary>
    private uint InsertNode(Key key, in ConnTuple tuple, ushort zone, uint now)
    {
        int slot = SlotOf(key);
        CollectSlot(slot, -1, now);
        int n;
        if (_nodeFree >= 0)
        {
            n = _nodeFree;
            _nodeFree = _nodes[n].SlotNext;
        }
        else
        {
            if (_nodeUsed == _nodes.Length) Array.Resize(ref _nodes, _nodes.Length * 2);
            n = _nodeUsed++;
        }
        _nodes[n] = new Node { Key = key, Head = -1, Tail = -1, LastGc = now, LastGcCount = 0, SlotNext = _slotHead[slot] };
        _slotHead[slot] = n;
        _index.Add(key, n);
        Append(n, tuple, zone);
        return 1;
    }

    /// <summary>The GC insert_tree does on its way down the tree: up to 8 lists of the slot that cleaning empties are freed.</summary>
    private void CollectSlot(int slot, int except, uint now)
    {
        int freed = 0;
        int prev = -1;
        for (int n = _slotHead[slot]; n >= 0 && freed < GcMaxNodes;)
        {
            int next = _nodes[n].SlotNext;
            if (n != except && GcList(n, now) && _nodes[n].Count == 0)
            {
                if (prev >= 0) _nodes[prev].SlotNext = next;
                else _slotHead[slot] = next;
                _index.Remove(_nodes[n].Key);
                _nodes[n].SlotNext = _nodeFree;
                _nodeFree = n;
                freed++;
            }
            else
            {
                prev = n;
            }
            n = next;
        }
    }

    /// <summary>
    /// __nf_conncount_add: true when the connection is (or already was) in the list; false for
    /// -EEXIST, an ASSURED confirmed connection whose addition is skipped.
    /// </summary>
    private bool Add(int n, in ConnTuple tuple, Connection? ct, ushort zone, uint now)
    {
        ref var node = ref _nodes[n];
        if (ct != null && ct.Has(ConnStatus.Confirmed))
        {
            if (ct.Has(ConnStatus.Assured)) return false;
        }
        else if (now == node.LastGc && node.Count - node.LastGcCount < GcMaxCollect)
        {
            Append(n, tuple, zone);
            return true;
        }

        int collect = 0, prev = -1;
        for (int c = node.Head; c >= 0;)
        {
            if (collect > GcMaxCollect) break;
            ref var conn = ref _conns[c];
            int next = conn.Next;
            var found = Lookup(conn);
            if (found == null)
            {
                Free(n, prev, c);
                collect++;
            }
            else if (conn.Tuple == tuple && found.Zone == zone)
            {
                // The connection is counted already (a rule without --syn sees it more than once).
                return true;
            }
            else if (AlreadyClosed(found))
            {
                Free(n, prev, c);
                collect++;
            }
            else
            {
                prev = c;
            }
            c = next;
        }
        node.LastGc = now;
        node.LastGcCount = node.Count;
        Append(n, tuple, zone);
        return true;
    }

    /// <summary>__nf_conncount_gc_list: drops gone and closed connections; true when the list ends up empty. Skipped when it ran this jiffy.</summary>
    private bool GcList(int n, uint now)
    {
        ref var node = ref _nodes[n];
        if (now == node.LastGc) return false;
        int collected = 0, prev = -1;
        for (int c = node.Head; c >= 0;)
        {
            ref var conn = ref _conns[c];
            int next = conn.Next;
            var found = Lookup(conn);
            if (found == null || AlreadyClosed(found))
            {
                Free(n, prev, c);
                collected++;
            }
            else
            {
                prev = c;
                if (collected > GcMaxCollect) break;
            }
            c = next;
        }
        node.LastGc = now;
        node.LastGcCount = node.Count;
        return node.Count == 0;
    }

    /// <summary>nf_conntrack_find_get: the confirmed, unexpired entry with the listed tuple (either direction), or null.</summary>
    private Connection? Lookup(in Conn conn) => conntrack.Find(conn.Tuple, conn.Zone, out _);

    /// <summary>already_closed: TCP connections in TIME_WAIT or CLOSE no longer count.</summary>
    private static bool AlreadyClosed(Connection ct) =>
        ct.Original.Protocol == IpProtocol.Tcp && ct.TcpState is TcpConntrackState.TimeWait or TcpConntrackState.Close;

    private void Append(int n, in ConnTuple tuple, ushort zone)
    {
        int c;
        if (_connFree >= 0)
        {
            c = _connFree;
            _connFree = _conns[c].Next;
        }
        else
        {
            if (_connUsed == _conns.Length) Array.Resize(ref _conns, _conns.Length * 2);
            c = _connUsed++;
        }
        _conns[c] = new Conn { Tuple = tuple, Zone = zone, Next = -1 };
        ref var node = ref _nodes[n];
        if (node.Tail >= 0) _conns[node.Tail].Next = c;
        else node.Head = c;
        node.Tail = c;
        node.Count++;
    }

    private void Free(int n, int prev, int c)
    {
        ref var node = ref _nodes[n];
        int next = _conns[c].Next;
        if (prev >= 0) _conns[prev].Next = next;
        else node.Head = next;
        if (node.Tail == c) node.Tail = prev;
        node.Count--;
        _conns[c] = new Conn { Next = _connFree };
        _connFree = c;
    }
}
