using System.Runtime.InteropServices;

namespace SharpTables.Engine;

/// <summary>
/// Lets any number of threads walk packets through the engine at once, each with its own
/// <see cref="Packet"/>, while a writer can still be sure nobody walks what it is about to change.
/// Every thread has its own slot with a sequence number that is odd while the thread walks — the
/// only write on the packet path is to the thread's own slot, so walkers never contend, and it
/// needs no fence: writers, which are rare, pay for a process-wide memory barrier instead (an
/// asymmetric Dekker handshake, as userspace RCU does with membarrier). Two writer protocols:
/// <list type="bullet">
/// <item><see cref="WaitForWalks"/> (the kernel's synchronize_rcu): returns once every walk that
/// had begun when it was called has ended; used after a ruleset swap, before the old ruleset is
/// disposed. Packets keep flowing meanwhile.</item>
/// <item><see cref="Pause"/>: new walks wait and running ones are waited for, until the pause is
/// disposed; for changes the packet path reads without locks (the host's interfaces) and for
/// edits that must see counters standing still.</item>
/// </list>
/// </summary>
public sealed class WalkGate
{
    /// <summary>One thread's walk state and scratch.</summary>
    internal sealed class Slot
    {
        /// <summary>What the thread writes on every packet, on a cache line of its own.</summary>
        public WalkState Walk;
        /// <summary>The packets this thread's walk generated (REJECT replies), sent after it.</summary>
        public readonly LocalOutQueue LocalOut = new();
        /// <summary>The counter set this thread walked last, and its array of counts in it.</summary>
        public CounterSet? CountersOf;
        public long[]? Counters;
    }

    /// <summary>
    /// The sequence number (odd while the thread walks a packet) and the nesting of walks (an
    /// observer may send a packet of its own), with 64 bytes of padding each side so two threads'
    /// slots never share a cache line.
    /// </summary>
    [StructLayout(LayoutKind.Explicit, Size = 136)]
    internal struct WalkState
    {
        [FieldOffset(64)] public long Sequence;
        [FieldOffset(72)] public int Depth;
    }

    private readonly ThreadLocal<Slot> _slots = new(static () => new Slot(), trackAllValues: true);
    private readonly object _writer = new();
    private readonly object _resume = new();
    private volatile bool _paused;
    private int _pauseDepth;

    /// <summary>The calling thread's slot.</summary>
    internal Slot Current => _slots.Value!;

    /// <summary>Begins a walk on the calling thread (waits while the engine is paused); pair with <see cref="Exit"/>.</summary>
    internal Slot Enter()
    {
        var slot = _slots.Value!;
        if (slot.Walk.Depth++ > 0) return slot;
        while (true)
        {
            // The writer's process-wide barrier orders this store before its reads of the slots:
            // it either sees this thread walking, or this thread sees the writer's change.
            Volatile.Write(ref slot.Walk.Sequence, slot.Walk.Sequence + 1);
            if (!_paused) return slot;
            Volatile.Write(ref slot.Walk.Sequence, slot.Walk.Sequence + 1);
            lock (_resume)
                while (_paused) Monitor.Wait(_resume);
        }
    }

    /// <summary>Ends the walk begun by <see cref="Enter"/>.</summary>
    internal void Exit(Slot slot)
    {
        if (--slot.Walk.Depth == 0) Volatile.Write(ref slot.Walk.Sequence, slot.Walk.Sequence + 1);
    }

    /// <summary>Whether the calling thread is walking a packet (e.g. an observer's callback).</summary>
    public bool WalkingOnCurrentThread => _slots.IsValueCreated && _slots.Value!.Walk.Depth > 0;

    /// <summary>Whether the calling thread holds a <see cref="Pause"/>.</summary>
    public bool PausedByCurrentThread => Monitor.IsEntered(_writer) && _pauseDepth > 0;

    /// <summary>
    /// Stops the packet path: returns once no packet is being walked, and no walk begins until the
    /// result is disposed (on the same thread). Pauses nest. Not callable from within a walk.
    /// </summary>
    public IDisposable Pause()
    {
        if (WalkingOnCurrentThread)
            throw new InvalidOperationException("the packet path cannot be paused from within a packet's walk");
        Monitor.Enter(_writer);
        if (_pauseDepth++ == 0)
        {
            lock (_resume) _paused = true;
            Interlocked.MemoryBarrierProcessWide();
            foreach (var slot in _slots.Values)
            {
                var spin = new SpinWait();
                while ((Volatile.Read(ref slot.Walk.Sequence) & 1) != 0) spin.SpinOnce();
            }
        }
        return new Paused(this);
    }

    private void Resume()
    {
        if (--_pauseDepth == 0)
        {
            lock (_resume)
            {
                _paused = false;
                Monitor.PulseAll(_resume);
            }
        }
        Monitor.Exit(_writer);
    }

    private sealed class Paused(WalkGate gate) : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            gate.Resume();
        }
    }

    /// <summary>
    /// Waits until every walk in progress at the time of the call has ended (walks begun later
    /// are not waited for). Not callable from within a walk.
    /// </summary>
    public void WaitForWalks()
    {
        if (WalkingOnCurrentThread)
            throw new InvalidOperationException("a packet's walk cannot wait for itself");
        Interlocked.MemoryBarrierProcessWide();
        foreach (var slot in _slots.Values)
        {
            long seq = Volatile.Read(ref slot.Walk.Sequence);
            if ((seq & 1) == 0) continue;
            var spin = new SpinWait();
            while (Volatile.Read(ref slot.Walk.Sequence) == seq) spin.SpinOnce();
        }
    }
}
