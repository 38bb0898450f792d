using System.Text;
using SharpTables.Packets;
using SharpTables.Rules.Extensions.Hashlimit;
using SharpTables.Rules.Model;

namespace SharpTables.Engine.State;

/// <summary>
/// The xt_hashlimit tables of a network namespace, by name and family (rules with the same
/// <c>--hashlimit-name</c> and family share one table, configured by the rule that created it).
/// Like <see cref="RecentTables"/>, a table lives while compiled rules hold references to it.
/// </summary>
public sealed class HashlimitTables(EngineClock clock)
{
    private readonly Dictionary<(string Name, Family Family), HashlimitTable> _tables = new();
    private readonly Lock _lock = new();

    /// <summary>The clock the tables' jiffies come from.</summary>
    public EngineClock Clock { get; } = clock;

    /// <summary>
    /// Hash buckets of a table whose rule gives no <c>--hashlimit-htable-size</c>. The kernel
    /// derives it from RAM: 8192 on machines with more than 1 GiB, RAM/128 KiB below that.
    /// </summary>
    public uint DefaultSize { get; init; } = 8192;

    /// <summary>The tables that exist now: /proc/net/ipt_hashlimit (IPv4) and ip6t_hashlimit (IPv6).</summary>
    public IReadOnlyList<(string Name, Family Family)> Names
    {
        get
        {
            lock (_lock) return _tables.Keys.OrderBy(k => k.Family).ThenBy(k => k.Name, StringComparer.Ordinal).ToList();
        }
    }

    /// <summary>The table <paramref name="name"/> of <paramref name="family"/>, or null when no rule uses it.</summary>
    public HashlimitTable? Find(string name, Family family)
    {
        lock (_lock) return _tables.GetValueOrDefault((name, family));
    }

    /// <summary>
    /// hashlimit_mt_check_common: a reference to the table, created from <paramref name="rule"/>'s
    /// settings if it does not exist. A rate-match rule cannot share a table with a limiting rule
    /// (the kernel refuses the rule with EINVAL: <see cref="InvalidOperationException"/> here).
    /// </summary>
    public HashlimitTable Acquire(HashlimitMatch rule, Family family)
    {
        bool rateMatch = (rule.Mode & HashlimitMode.RateMatch) != 0;
        lock (_lock)
        {
            if (_tables.TryGetValue((rule.TableName, family), out var t))
            {
                if (t.RateMatch != rateMatch)
                    throw new InvalidOperationException($"hashlimit: table {rule.TableName} exists with{(t.RateMatch ? "" : "out")} --hashlimit-rate-match: Invalid argument");
                t.References++;
                return t;
            }
            t = new HashlimitTable(rule, family, DefaultSize, Clock);
            _tables.Add((rule.TableName, family), t);
            return t;
        }
    }

    /// <summary>htable_put: the last reference deletes the table.</summary>
    public void Release(HashlimitTable table)
    {
        lock (_lock)
        {
            if (--table.References == 0) _tables.Remove((table.Name, table.Family));
        }
    }
}

/// <summary>
/// One xt_hashlimit table (revision 3 arithmetic, HZ=250): a token bucket per flow key, keyed by
/// the masked addresses and ports the creating rule's <c>--hashlimit-mode</c> selects. Entries
/// expire <c>--hashlimit-htable-expire</c> ms after their last packet and are removed by the
/// garbage collection that runs every <c>--hashlimit-htable-gcinterval</c> ms (done lazily here,
/// before each packet, as of the last collection time that has passed). The packet path
/// allocates only when the table grows past its largest size so far.
/// </summary>
public sealed class HashlimitTable
{
    /// <summary>XT_HASHLIMIT_SCALE_v2: avg is in microseconds.</summary>
    private const ulong ScaleV2 = 1_000_000;
    private const ulong Hz = EngineClock.Hz;
    /// <summary>CREDITS_PER_JIFFY (revision 2+): the power of two below 2^64 / (HZ*60*60*24) = 2^39.</summary>
    private const ulong CreditsPerJiffy = 1UL << 39;
    /// <summary>CREDITS_PER_JIFFY_BYTES: the power of two below 2^32 / HZ = 2^24.</summary>
    private const ulong CreditsPerJiffyBytes = 1UL << 24;
    private const int ByteShift = 4;
    /// <summary>MAX_JIFFY_OFFSET on 64 bits: what msecs_to_jiffies returns for "negative" milliseconds.</summary>
    private const ulong MaxJiffyOffset = (ulong)(long.MaxValue >> 1) - 1;

    private struct Entry
    {
        public Key Key;
        public ulong Expires;
        public ulong Prev;
        // Token mode.
        public ulong Credit, CreditCap, Cost;
        // Rate-match mode.
        public uint Interval, PrevWindow;
        public ulong CurrentRate, Rate;
        public long Burst;
    }

    private readonly record struct Key(UInt128 Source, UInt128 Destination, ushort SourcePort, ushort DestinationPort);

    private readonly EngineClock _clock;
    private readonly Lock _lock = new();
    private readonly Dictionary<Key, int> _index = new();
    private Entry[] _entries = new Entry[16];
    private int[] _free = new int[16];
    private int _freeCount;
    private int _used;
    private readonly ulong _gcJiffies, _expireJiffies;
    private ulong _nextGc;

    internal HashlimitTable(HashlimitMatch cfg, Family family, uint defaultSize, EngineClock clock)
    {
        _clock = clock;
        Name = cfg.TableName;
        Family = family;
        Mode = cfg.Mode;
        Avg = cfg.Avg;
        Burst = cfg.Burst;
        Size = cfg.Size != 0 ? cfg.Size : defaultSize;
        Max = cfg.Max == 0 ? 8 * Size : Math.Max(cfg.Max, Size);
        Interval = cfg.Interval;
        int full = family == Family.IPv6 ? 128 : 32;
        // The Rules model keeps IPv4 prefixes (default 32); for IPv6 its default means the whole address.
        SourceMask = family == Family.IPv6 && cfg.SourceMask == 32 ? full : cfg.SourceMask;
        DestinationMask = family == Family.IPv6 && cfg.DestinationMask == 32 ? full : cfg.DestinationMask;
        _gcJiffies = MsecsToJiffies(cfg.GcInterval);
        _expireJiffies = MsecsToJiffies(cfg.Expire);
        _nextGc = clock.Jiffies + _gcJiffies;
    }

    /// <summary>The table's name (<c>--hashlimit-name</c>).</summary>
    public string Name { get; }
    /// <summary>The family of the rules sharing it.</summary>
    public Family Family { get; }
    /// <summary>The creating rule's mode: which fields make the key, bytes or packets, rate-match.</summary>
    public HashlimitMode Mode { get; }
    /// <summary>cfg.avg: microseconds per packet, or the per-byte cost in byte mode.</summary>
    public ulong Avg { get; }
    /// <summary>cfg.burst: packets, or refills of the byte bucket in byte mode.</summary>
    public ulong Burst { get; }
    /// <summary>Hash buckets (cfg.size after defaults).</summary>
    public uint Size { get; }
    /// <summary>Entries at most; a new flow beyond this is dropped (hotdrop).</summary>
    public uint Max { get; }
    /// <summary>Rate-match measuring interval in seconds.</summary>
    public uint Interval { get; }
    /// <summary>Prefix lengths the source and destination addresses are grouped by.</summary>
    public int SourceMask { get; }
    /// <inheritdoc cref="SourceMask"/>
    public int DestinationMask { get; }
    internal bool RateMatch => (Mode & HashlimitMode.RateMatch) != 0;
    internal int References { get; set; } = 1;

    /// <summary>Entries in the table now (before any pending garbage collection).</summary>
    public int Count
    {
        get { lock (_lock) return _index.Count; }
    }

    /// <summary>msecs_to_jiffies at HZ=250 (rounds up; values with the top bit set mean "never").</summary>
    internal static ulong MsecsToJiffies(uint ms) => (int)ms < 0 ? MaxJiffyOffset : (ulong)unchecked(ms + 3u) / 4;

    /// <summary>user2credits for revision 3.</summary>
    internal static ulong UserToCredits(ulong user) => unchecked(user * (Hz * CreditsPerJiffy / ScaleV2));

    /// <summary>user2credits_byte.</summary>
    internal static uint UserToCreditsByte(uint user) => (uint)((ulong)user * (Hz * CreditsPerJiffyBytes) >> 32);

    /// <summary>
    /// hashlimit_mt_common for one packet. <paramref name="ruleMode"/> is the evaluating rule's own
    /// mode: it decides rate-match, bytes and above/up-to, while the key, the masks and the bucket
    /// parameters come from the table. Returns whether the rule matches; sets
    /// <paramref name="hotdrop"/> when the key cannot be built or the table is full.
    /// </summary>
    public bool Match(Packet p, HashlimitMode ruleMode, ref bool hotdrop)
    {
        if (!BuildKey(p, out var key))
        {
            hotdrop = true;
            return false;
        }
        bool invert = (ruleMode & HashlimitMode.Invert) != 0;
        lock (_lock)
        {
            ulong now = _clock.Jiffies;
            CollectGarbage(now);
            if (_index.TryGetValue(key, out int e))
            {
                _entries[e].Expires = now + _expireJiffies;
                Recalc(ref _entries[e], now);
            }
            else
            {
                if (_index.Count >= Max)
                {
                    hotdrop = true;
                    return false;
                }
                e = Allocate(key);
                _entries[e].Expires = now + _expireJiffies;
                Init(ref _entries[e], now);
            }

            ref var en = ref _entries[e];
            if ((ruleMode & HashlimitMode.RateMatch) != 0)
            {
                en.CurrentRate += (ruleMode & HashlimitMode.Bytes) != 0 ? (ulong)p.Length : 1;
                return en.PrevWindow == 0 && en.CurrentRate <= (ulong)en.Burst ? !invert : invert;
            }
            ulong cost = (ruleMode & HashlimitMode.Bytes) != 0 ? ByteCost(p.Length, ref en) : en.Cost;
            if (en.Credit >= cost)
            {
                en.Credit -= cost;
                return !invert;
            }
            return invert;
        }
    }

    /// <summary>rateinfo_init (revision 3).</summary>
    private void Init(ref Entry en, ulong now)
    {
        en.Prev = now;
        if (RateMatch)
        {
            en.PrevWindow = 0;
            en.CurrentRate = 0;
            if ((Mode & HashlimitMode.Bytes) != 0)
            {
                // user2rate_bytes
                uint user = (uint)Avg;
                ulong r = user != 0 ? uint.MaxValue / user : uint.MaxValue;
                en.Rate = unchecked((r - 1) << ByteShift);
                en.Burst = unchecked((long)(Burst != 0 ? Burst * en.Rate : en.Rate));
            }
            else
            {
                en.Rate = Avg != 0 ? ScaleV2 / Avg : 0;
                en.Burst = unchecked((long)(Burst + en.Rate));
            }
            en.Interval = Interval;
        }
        else if ((Mode & HashlimitMode.Bytes) != 0)
        {
            en.Credit = CreditsPerJiffyBytes * Hz;
            en.Cost = UserToCreditsByte((uint)Avg);
            en.CreditCap = Burst;
        }
        else
        {
            en.Credit = UserToCredits(unchecked(Avg * Burst));
            en.Cost = UserToCredits(Avg);
            en.CreditCap = en.Credit;
        }
    }

    /// <summary>rateinfo_recalc: credit for the jiffies since the entry's last update, capped.</summary>
    private void Recalc(ref Entry en, ulong now)
    {
        ulong delta = now - en.Prev;
        if (delta == 0) return;
        if (RateMatch)
        {
            ulong interval = en.Interval * Hz;
            if (delta < interval) return;
            en.Prev = now;
            en.PrevWindow = unchecked(en.CurrentRate * interval > delta * en.Rate) ? 1u : 0u;
            en.CurrentRate = 0;
            return;
        }
        en.Prev = now;
        ulong cap;
        if ((Mode & HashlimitMode.Bytes) != 0)
        {
            ulong before = en.Credit;
            en.Credit = unchecked(en.Credit + CreditsPerJiffyBytes * delta);
            cap = CreditsPerJiffyBytes * Hz;
            if (before >= en.Credit)
            {
                en.Credit = cap;
                return;
            }
        }
        else
        {
            en.Credit = unchecked(en.Credit + delta * CreditsPerJiffy);
            cap = en.CreditCap;
        }
        if (en.Credit > cap) en.Credit = cap;
    }

    /// <summary>hashlimit_byte_cost: 16-byte chunks times the cost; an empty bucket is refilled while burst refills remain.</summary>
    private static ulong ByteCost(int length, ref Entry en)
    {
        ulong tmp = ((ulong)((uint)length >> ByteShift) + 1) * en.Cost;
        if (tmp > CreditsPerJiffyBytes * Hz) tmp = CreditsPerJiffyBytes * Hz;
        if (en.Credit < tmp && en.CreditCap != 0)
        {
            en.CreditCap--;
            en.Credit = CreditsPerJiffyBytes * Hz;
        }
        return (uint)tmp;
    }

    /// <summary>hashlimit_init_dst: false when the ports are needed but cannot be read (the kernel hot-drops); an IPv4 fragment other than the first counts with ports 0.</summary>
    private bool BuildKey(Packet p, out Key key)
    {
        ref readonly var info = ref p.Info;
        key = default;
        UInt128 src = 0, dst = 0;
        if ((Mode & HashlimitMode.DestinationIp) != 0) dst = MaskAddress(info.Destination, DestinationMask);
        if ((Mode & HashlimitMode.SourceIp) != 0) src = MaskAddress(info.Source, SourceMask);
        if ((Mode & (HashlimitMode.DestinationPort | HashlimitMode.SourcePort)) == 0)
        {
            key = new Key(src, dst, 0, 0);
            return true;
        }
        // A non-first IPv4 fragment has no ports: the kernel hashes it with ports 0 (not a hot-drop).
        if (info.IsFragment && Family == Family.IPv4)
        {
            key = new Key(src, dst, 0, 0);
            return true;
        }
        if (info.IsFragment) return false;
        int offset = Family == Family.IPv6 ? info.TransportOffset : info.HeaderLength;
        if (offset < 0) return false;
        ushort sport = 0, dport = 0;
        int poff = info.Protocol switch
        {
            IpProtocol.Tcp or IpProtocol.Udp or IpProtocol.Dccp or IpProtocol.Esp or IpProtocol.Sctp or IpProtocol.UdpLite => 0,
            IpProtocol.Ah => 4,
            _ => -1,
        };
        if (poff >= 0)
        {
            int at = offset + poff, end = Math.Min(p.Length, info.TotalLength);
            if (at + 4 > end) return false;
            sport = (ushort)(p.Buffer[at] << 8 | p.Buffer[at + 1]);
            dport = (ushort)(p.Buffer[at + 2] << 8 | p.Buffer[at + 3]);
        }
        key = new Key(src, dst,
            (Mode & HashlimitMode.SourcePort) != 0 ? sport : (ushort)0,
            (Mode & HashlimitMode.DestinationPort) != 0 ? dport : (ushort)0);
        return true;
    }

    /// <summary>maskl / hashlimit_ipv6_mask: keeps the first <paramref name="prefix"/> bits.</summary>
    private UInt128 MaskAddress(UInt128 a, int prefix)
    {
        if (prefix <= 0) return 0;
        if (Family == Family.IPv6) return prefix >= 128 ? a : a & (UInt128.MaxValue << (128 - prefix));
        return prefix >= 32 ? a : a & (uint.MaxValue << (32 - prefix));
    }

    private int Allocate(Key key)
    {
        int e;
        if (_freeCount > 0)
        {
            e = _free[--_freeCount];
        }
        else
        {
            if (_used == _entries.Length)
            {
                Array.Resize(ref _entries, _entries.Length * 2);
                Array.Resize(ref _free, _free.Length * 2);
            }
            e = _used++;
        }
        _entries[e] = new Entry { Key = key };
        _index.Add(key, e);
        return e;
    }

    /// <summary>htable_gc as of the last collection time that has passed: drops entries whose expiry time has come.</summary>
    private void CollectGarbage(ulong now)
    {
        if ((long)(now - _nextGc) < 0) return;
        ulong runs = (now - _nextGc) / _gcJiffies;
        ulong at = _nextGc + runs * _gcJiffies;
        _nextGc = at + _gcJiffies;
        foreach (var (k, e) in _index)
        {
            if ((long)(at - _entries[e].Expires) < 0) continue;
            _index.Remove(k);
            _free[_freeCount++] = e;
        }
    }

    /// <summary>
    /// The /proc/net/ipt_hashlimit/NAME listing (dl_seq_show, revision 3), after bringing every
    /// entry's credit up to date as the kernel does: <c>SECONDS_LEFT SRC:SPORT-&gt;DST:DPORT CREDIT
    /// CREDIT_CAP COST</c>. In rate-match mode the last three numbers are the same memory read as
    /// the rate-match fields. Entry order is unspecified (the kernel's follows a random hash).
    /// </summary>
    public string Format()
    {
        var sb = new StringBuilder();
        lock (_lock)
        {
            ulong now = _clock.Jiffies;
            CollectGarbage(now);
            foreach (var (k, e) in _index)
            {
                ref var en = ref _entries[e];
                Recalc(ref en, now);
                sb.Append((long)(en.Expires - now) / (long)Hz).Append(' ');
                AppendAddress(sb, k.Source);
                sb.Append(':').Append(k.SourcePort).Append("->");
                AppendAddress(sb, k.Destination);
                sb.Append(':').Append(k.DestinationPort).Append(' ');
                if (RateMatch)
                    sb.Append(en.Interval | (ulong)en.PrevWindow << 32).Append(' ').Append(en.CurrentRate).Append(' ').Append(en.Rate);
                else
                    sb.Append(en.Credit).Append(' ').Append(en.CreditCap).Append(' ').Append(en.Cost);
                sb.Append('\n');
            }
        }
        return sb.ToString();
    }

    private void AppendAddress(StringBuilder sb, UInt128 a)
    {
        if (Family == Family.IPv6) KernelInet.AppendIPv6(sb, a);
        else KernelInet.AppendIPv4(sb, (uint)a);
    }
}
