using SharpTables.Engine.Conntrack;
using SharpTables.Engine.Nat;
using SharpTables.Engine.State;

namespace SharpTables.Engine;

/// <summary>
/// Everything that outlives a ruleset swap: the clock, the host's interfaces, the conntrack
/// table and NAT bindings, recent lists, hashlimit tables, per-rule extension state, and where events go.
/// </summary>
public sealed class EngineState
{
    /// <param name="clockPhase">Where the clock's jiffy boundaries fall (<see cref="EngineClock"/>'s phase).</param>
    public EngineState(TimeProvider? time = null, HostNetwork? network = null, ConntrackOptions? conntrack = null, TimeSpan clockPhase = default)
    {
        Clock = new EngineClock(time ?? TimeProvider.System, phase: clockPhase);
        Network = network ?? new HostNetwork();
        Conntrack = new ConntrackTable(Clock, conntrack ?? new ConntrackOptions());
        Nat = new NatService(this);
        Recent = new RecentTables(Clock);
        Hashlimit = new HashlimitTables(Clock);
    }

    public EngineClock Clock { get; }
    public HostNetwork Network { get; }
    public ConntrackTable Conntrack { get; }
    public NatService Nat { get; }
    public RecentTables Recent { get; }
    /// <summary>The hashlimit tables (/proc/net/ipt_hashlimit, ip6t_hashlimit).</summary>
    public HashlimitTables Hashlimit { get; }
    public RuleStateStore RuleStates { get; } = new();
    public IEngineObserver Observer { get; set; } = NullObserver.Instance;

    /// <summary>Who walks packets through the engine now: lets several threads do so at once, and swaps and edits wait for them.</summary>
    public WalkGate Walks { get; } = new();

    /// <summary>
    /// Packets the host itself sends because of the packet the calling thread is processing
    /// (REJECT replies): the engine runs them through OUTPUT and POSTROUTING after that packet, as
    /// ip_local_out does. One queue per thread, so concurrent walks keep their replies apart. A
    /// bounded ring of reusable buffers; nothing is allocated per packet.
    /// </summary>
    public LocalOutQueue LocalOut => Walks.Current.LocalOut;
}

/// <summary>Reusable buffers for packets generated while processing another one.</summary>
public sealed class LocalOutQueue
{
    private const int Capacity = 8;
    private readonly byte[][] _buffers = Enumerable.Range(0, Capacity).Select(_ => new byte[1600]).ToArray();
    private readonly int[] _lengths = new int[Capacity];
    private readonly Connection?[] _conns = new Connection?[Capacity];
    private readonly CtInfo[] _ctInfos = new CtInfo[Capacity];
    private readonly Connection?[] _owned = new Connection?[Capacity];
    private readonly bool[] _fromSocket = new bool[Capacity];
    private int _count;

    public int Count => _count;

    /// <summary>Space for one more packet of up to 1600 bytes; call <see cref="Commit"/> with its length. Empty span when full.</summary>
    public Span<byte> Reserve() => _count < Capacity ? _buffers[_count] : Span<byte>.Empty;

    /// <summary>
    /// Queues the reserved packet. A reply to <paramref name="cause"/> (REJECT) inherits its
    /// conntrack entry as nf_ct_attach does: RELATED, in the reply direction when the cause
    /// went in the original one. An untracked or INVALID cause passes nothing on.
    /// </summary>
    /// <param name="fromSocket">
    /// Sent through a kernel socket (icmp_send's per-namespace ICMP socket), so skb->sk is set;
    /// nf_send_reset's RST is a bare skb without one.
    /// </param>
    public void Commit(int length, Packet? cause = null, bool fromSocket = false)
    {
        if (_count >= Capacity) return;
        _fromSocket[_count] = fromSocket;
        _conns[_count] = cause is { Untracked: false, Conn: { } c } ? c : null;
        _ctInfos[_count] = cause?.CtInfo.AnswerInfo() ?? CtInfo.Related;
        _lengths[_count++] = length;
    }

    public ReadOnlySpan<byte> Get(int i) => _buffers[i].AsSpan(0, _lengths[i]);

    /// <summary>Whether packet <paramref name="i"/> leaves through a kernel socket (see <see cref="Commit"/>).</summary>
    public bool FromSocket(int i) => _fromSocket[i];

    /// <summary>The conntrack entry packet <paramref name="i"/> inherited from the packet that caused it (null: none).</summary>
    public Connection? AttachedConn(int i, out CtInfo ctInfo)
    {
        ctInfo = _ctInfos[i];
        return _conns[i];
    }

    /// <summary>
    /// The entry conntrack made for packet <paramref name="i"/> itself while it was sent (it had
    /// none attached): a later reply to it may hold it, so it is released only after the queue ran.
    /// </summary>
    public Connection? Owned(int i) => _owned[i];

    public void SetOwned(int i, Connection? c) => _owned[i] = c;

    public void Clear()
    {
        Array.Clear(_conns, 0, _count);
        Array.Clear(_owned, 0, _count);
        _count = 0;
    }
}
