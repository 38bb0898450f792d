using System.Text;
using SharpTables.Rules.Extensions.Recent;

namespace SharpTables.Engine.State;

/// <summary>The xt_recent module parameters (set once, like <c>modprobe xt_recent ...</c>).</summary>
public sealed record RecentOptions
{
    /// <summary>ip_list_tot: addresses a list remembers; a new one evicts the least recently seen.</summary>
    public int ListTotal { get; init; } = 100;

    /// <summary>
    /// ip_pkt_list_tot: timestamps kept per address. 0 (the default since Linux 4.x) sizes each
    /// list from the largest <c>--hitcount</c> of its rules (rounded up to a power of two, 32
    /// without one). Values up to 65535.
    /// </summary>
    public int PacketListTotal { get; init; }

    // ip_list_hash_size, ip_list_perms, ip_list_uid and ip_list_gid only shape the kernel's
    // listing order and the /proc files' modes, neither of which is modelled.
}

/// <summary>A /proc/net/xt_recent write failed; <see cref="Exception.Message"/> is the errno text a shell prints.</summary>
public sealed class RecentProcException(int errno, string message) : Exception(message)
{
    /// <summary>No list of that name (no rule uses it).</summary>
    public const int ENOENT = 2;
    /// <summary>The text is not <c>+ADDR</c>, <c>-ADDR</c> or <c>/</c>, or the address does not parse.</summary>
    public const int EINVAL = 22;
    /// <summary>More than one write(2) was needed: the kernel takes only the first, at offset 0.</summary>
    public const int ESPIPE = 29;

    /// <summary>The errno the kernel returned (ENOENT, EINVAL or ESPIPE).</summary>
    public int Errno { get; } = errno;
}

/// <summary>
/// The xt_recent lists of one network namespace, by name (names are shared by iptables and
/// ip6tables rules, as in the kernel). A list exists while rules reference it: compiling a recent
/// match acquires its list and disposing the compiled match releases it; the last release deletes
/// the list and its entries. Rules that survive a ruleset swap therefore keep their lists as long
/// as the new ruleset is compiled before the old one is disposed (iptables-nft's order: the new
/// rules' checkentry runs before the old rules are destroyed). The lists can be read and written
/// like /proc/net/xt_recent/NAME (<see cref="Read"/>, <see cref="Write"/>).
/// </summary>
public sealed class RecentTables(EngineClock clock, RecentOptions? options = null)
{
    private readonly Dictionary<string, RecentTable> _tables = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>The clock the lists' jiffies come from.</summary>
    public EngineClock Clock { get; } = clock;
    /// <summary>The module parameters.</summary>
    public RecentOptions Options { get; } = options ?? new RecentOptions();

    /// <summary>The names of the lists that exist now (the files in /proc/net/xt_recent), sorted.</summary>
    public IReadOnlyList<string> Names
    {
        get
        {
            lock (_lock)
            {
                var names = _tables.Keys.ToList();
                names.Sort(StringComparer.Ordinal);
                return names;
            }
        }
    }

    /// <summary>The list called <paramref name="name"/>, or null when no rule uses that name.</summary>
    public RecentTable? Find(string name)
    {
        lock (_lock) return _tables.GetValueOrDefault(name);
    }

    /// <summary>
    /// recent_mt_check: takes a reference to the list <paramref name="name"/>, creating it with
    /// this rule's mask when it does not exist. A list keeps the mask of the rule that created it;
    /// a rule needing more timestamps than the list holds empties the list and enlarges it.
    /// </summary>
    public RecentTable Acquire(string name, uint mask, uint hitCount)
    {
        int total = Options.PacketListTotal;
        int stampMask = total != 0 && hitCount < total ? (int)RoundUpPow2((uint)total) - 1
            : hitCount != 0 ? (int)RoundUpPow2(hitCount) - 1
            : 31;
        lock (_lock)
        {
            if (_tables.TryGetValue(name, out var t))
            {
                t.AddReference(stampMask);
                return t;
            }
            t = new RecentTable(name, mask, stampMask, Options.ListTotal, Clock);
            _tables.Add(name, t);
            return t;
        }
    }

    /// <summary>recent_mt_destroy: drops a reference; the last one deletes the list.</summary>
    public void Release(RecentTable table)
    {
        lock (_lock)
        {
            if (table.DropReference() == 0) _tables.Remove(table.Name);
        }
    }

    /// <summary>Reading /proc/net/xt_recent/NAME: one line per address (see <see cref="RecentTable.Format"/>).</summary>
    public string Read(string name) =>
        (Find(name) ?? throw NoSuchFile()).Format();

    /// <summary>
    /// <c>echo TEXT &gt; /proc/net/xt_recent/NAME</c>: <c>+ADDR</c> adds an address (or records
    /// another hit of it), <c>-ADDR</c> removes it, <c>/</c> empties the list. Throws
    /// <see cref="RecentProcException"/> with the kernel's errno when the write is refused.
    /// </summary>
    public void Write(string name, string text)
    {
        var table = Find(name) ?? throw NoSuchFile();
        var bytes = Encoding.UTF8.GetBytes(text);
        // One write(2) is handled at offset 0; echo writes the rest in further calls, which
        // the kernel refuses because their offset is no longer 0.
        int used = table.ProcWrite(bytes);
        if (used < bytes.Length)
            throw new RecentProcException(RecentProcException.ESPIPE, "Illegal seek");
    }

    private static RecentProcException NoSuchFile() => new(RecentProcException.ENOENT, "No such file or directory");

    private static uint RoundUpPow2(uint v) => v <= 1 ? 1 : 1u << (32 - System.Numerics.BitOperations.LeadingZeroCount(v - 1));
}

/// <summary>
/// One xt_recent list: up to ip_list_tot addresses, each with its last TTL and a ring of jiffies
/// timestamps. Entries live in preallocated arrays so a packet never allocates. The kernel keeps
/// them in hash buckets (seeded at random, so its listing order is not reproducible); this list
/// is ordered from least to most recently seen, and <see cref="Format"/> prints it in that order.
/// </summary>
public sealed class RecentTable
{
    /// <summary>Size of recent_mt_proc_write's buffer: sizeof("+b335:1d35:1e55:dead:c0de:1715:255.255.255.255").</summary>
    private const int ProcWriteBuffer = 47;

    private struct Entry
    {
        public UInt128 Address;
        public byte Family; // 4 or 6
        public byte Ttl;
        public ushort Index; // next slot in the ring (printed as oldest_pkt)
        public ushort Count; // timestamps in use
        public int Older, Newer; // LRU links; -1 ends
    }

    private readonly record struct Key(UInt128 Address, byte Family);

    private readonly EngineClock _clock;
    private readonly Lock _lock = new();
    private readonly Entry[] _entries;
    private readonly Dictionary<Key, int> _index;
    private readonly int[] _free;
    private int _freeCount;
    private ulong[] _stamps;
    private int _stampMask;
    private int _oldest = -1, _newest = -1;
    private int _refs = 1;

    internal RecentTable(string name, uint mask, int stampMask, int listTotal, EngineClock clock)
    {
        Name = name;
        Mask = mask;
        _clock = clock;
        _stampMask = stampMask;
        _entries = new Entry[listTotal];
        _index = new Dictionary<Key, int>(listTotal);
        _free = new int[listTotal];
        for (int i = 0; i < listTotal; i++) _free[i] = listTotal - 1 - i;
        _freeCount = listTotal;
        _stamps = new ulong[listTotal * (stampMask + 1)];
    }

    /// <summary>The list's name (<c>--name</c>).</summary>
    public string Name { get; }

    /// <summary>The IPv4 mask of the rule that created the list; it applies to every rule using the list (IPv6 addresses are used whole).</summary>
    public uint Mask { get; }

    /// <summary>Timestamps kept per address (nstamps_max_mask + 1).</summary>
    public int StampsPerEntry => _stampMask + 1;

    /// <summary>Addresses in the list.</summary>
    public int Count
    {
        get { lock (_lock) return _index.Count; }
    }

    internal void AddReference(int stampMask)
    {
        lock (_lock)
        {
            _refs++;
            if (stampMask <= _stampMask) return;
            Flush();
            _stampMask = stampMask;
            _stamps = new ulong[_entries.Length * (stampMask + 1)];
        }
    }

    internal int DropReference()
    {
        lock (_lock)
        {
            if (--_refs == 0) Flush();
            return _refs;
        }
    }

    /// <summary>
    /// recent_mt for one packet: <paramref name="address"/> is the unmasked source or destination,
    /// <paramref name="ttl"/> the TTL as the match sees it. Allocation free.
    /// </summary>
    public bool Match(byte family, UInt128 address, byte ttl, RecentFlags flags, bool invert, uint seconds, uint hitCount)
    {
        if (family == 4) address &= Mask;
        lock (_lock)
        {
            ulong now = _clock.Jiffies;
            bool ret = invert;
            int e = Lookup(address, family, (flags & RecentFlags.Ttl) != 0 ? ttl : (byte)0);
            if (e < 0)
            {
                if ((flags & RecentFlags.Set) == 0) return ret;
                Insert(address, family, ttl, now);
                return !ret;
            }

            if ((flags & RecentFlags.Set) != 0)
            {
                ret = !ret;
            }
            else if ((flags & RecentFlags.Remove) != 0)
            {
                Remove(e);
                ret = !ret;
            }
            else if ((flags & (RecentFlags.Check | RecentFlags.Update)) != 0)
            {
                // seconds * HZ is a 32-bit product in the kernel.
                ulong time = now - unchecked(seconds * (uint)EngineClock.Hz);
                int hits = 0, stampBase = e * (_stampMask + 1);
                for (int i = 0; i < _entries[e].Count; i++)
                {
                    if (seconds != 0 && TimeAfter(time, _stamps[stampBase + i])) continue;
                    if (hitCount == 0 || ++hits >= hitCount)
                    {
                        ret = !ret;
                        break;
                    }
                }
                if ((flags & RecentFlags.Reap) != 0)
                    Reap(time, e, (flags & RecentFlags.Update) != 0 && ret);
            }

            if ((flags & RecentFlags.Set) != 0 || ((flags & RecentFlags.Update) != 0 && ret))
            {
                AddStamp(e, now);
                _entries[e].Ttl = ttl;
            }
            return ret;
        }
    }

    /// <summary>time_after(a, b) for unsigned long jiffies.</summary>
    private static bool TimeAfter(ulong a, ulong b) => (long)(b - a) < 0;

    /// <summary>recent_entry_lookup: a TTL of 0 on either side matches any TTL.</summary>
    private int Lookup(UInt128 address, byte family, byte ttl)
    {
        if (!_index.TryGetValue(new Key(address, family), out int e)) return -1;
        byte et = _entries[e].Ttl;
        return ttl == et || ttl == 0 || et == 0 ? e : -1;
    }

    /// <summary>recent_entry_init: evicts the least recently seen address when the list is full.</summary>
    private void Insert(UInt128 address, byte family, byte ttl, ulong now)
    {
        if (_freeCount == 0) Remove(_oldest);
        int e = _free[--_freeCount];
        _entries[e] = new Entry { Address = address, Family = family, Ttl = ttl, Index = 1, Count = 1, Older = _newest, Newer = -1 };
        _stamps[e * (_stampMask + 1)] = now;
        if (_newest >= 0) _entries[_newest].Newer = e;
        else _oldest = e;
        _newest = e;
        _index.Add(new Key(address, family), e);
    }

    /// <summary>recent_entry_update: one more timestamp in the ring; the entry becomes the most recent.</summary>
    private void AddStamp(int e, ulong now)
    {
        ref var en = ref _entries[e];
        en.Index = (ushort)(en.Index & _stampMask);
        _stamps[e * (_stampMask + 1) + en.Index] = now;
        en.Index++;
        if (en.Index > en.Count) en.Count = en.Index;
        if (_newest == e) return;
        Unlink(e);
        en.Older = _newest;
        en.Newer = -1;
        _entries[_newest].Newer = e;
        _newest = e;
    }

    /// <summary>recent_entry_reap: only the least recently seen entry is looked at, and only removed when its newest stamp is older than <paramref name="time"/>.</summary>
    private void Reap(ulong time, int working, bool updating)
    {
        int e = _oldest;
        if (e == working && updating) return;
        ref var en = ref _entries[e];
        if (TimeAfter(time, _stamps[e * (_stampMask + 1) + en.Index - 1])) Remove(e);
    }

    private void Unlink(int e)
    {
        ref var en = ref _entries[e];
        if (en.Older >= 0) _entries[en.Older].Newer = en.Newer;
        else _oldest = en.Newer;
        if (en.Newer >= 0) _entries[en.Newer].Older = en.Older;
        else _newest = en.Older;
    }

    private void Remove(int e)
    {
        Unlink(e);
        _index.Remove(new Key(_entries[e].Address, _entries[e].Family));
        _free[_freeCount++] = e;
    }

    private void Flush()
    {
        while (_oldest >= 0) Remove(_oldest);
    }

    /// <summary>
    /// The /proc listing, one line per address as recent_seq_show prints it:
    /// <c>src=ADDR ttl: T last_seen: J oldest_pkt: I S0, S1, ...</c> where the stamps are in
    /// ring order and oldest_pkt is the ring position the next timestamp goes to.
    /// </summary>
    public string Format()
    {
        var sb = new StringBuilder();
        lock (_lock)
        {
            for (int e = _oldest; e >= 0; e = _entries[e].Newer)
            {
                ref var en = ref _entries[e];
                int stampBase = e * (_stampMask + 1);
                sb.Append("src=");
                if (en.Family == 4) KernelInet.AppendIPv4(sb, (uint)en.Address);
                else KernelInet.AppendIPv6(sb, en.Address);
                sb.Append(" ttl: ").Append(en.Ttl)
                  .Append(" last_seen: ").Append(_stamps[stampBase + ((en.Index - 1) & _stampMask)])
                  .Append(" oldest_pkt: ").Append(en.Index);
                for (int i = 0; i < en.Count; i++)
                    sb.Append(i != 0 ? ", " : " ").Append(_stamps[stampBase + i]);
                sb.Append('\n');
            }
        }
        return sb.ToString();
    }

    /// <summary>recent_mt_proc_write for one write(2) at offset 0; returns the bytes it consumed.</summary>
    internal int ProcWrite(ReadOnlySpan<byte> input)
    {
        if (input.Length == 0) return 0;
        int size = Math.Min(input.Length, ProcWriteBuffer);
        var buf = input[..size];
        bool add;
        switch (buf[0])
        {
            case (byte)'/':
                lock (_lock) Flush();
                return size;
            case (byte)'-': add = false; break;
            case (byte)'+': add = true; break;
            default: throw new RecentProcException(RecentProcException.EINVAL, "Invalid argument");
        }

        var text = buf[1..];
        byte family;
        UInt128 address;
        bool ok;
        if (text.IndexOf((byte)':') >= 0)
        {
            family = 6;
            ok = KernelInet.In6Pton(text, '\n', out address);
        }
        else
        {
            family = 4;
            ok = KernelInet.In4Pton(text, '\n', out uint v4);
            address = v4;
        }
        if (!ok) throw new RecentProcException(RecentProcException.EINVAL, "Invalid argument");

        // The address is stored as written: the list's mask is not applied, and the TTL is 0 (any).
        lock (_lock)
        {
            int e = Lookup(address, family, 0);
            if (e < 0)
            {
                if (add) Insert(address, family, 0, _clock.Jiffies);
            }
            else if (add)
            {
                AddStamp(e, _clock.Jiffies);
            }
            else
            {
                Remove(e);
            }
        }
        return size;
    }
}
