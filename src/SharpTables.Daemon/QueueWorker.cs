using SharpTables.Engine;
using SharpTables.Netlink;

namespace SharpTables.Daemon;

/// <summary>
/// One thread serving one NFQUEUE: reads packets, has <see cref="PacketPath.Decide"/> judge each,
/// and answers the kernel in batches — consecutive packets with the same verdict and unchanged
/// mark share one NFQNL_MSG_VERDICT_BATCH, sent when the socket has nothing more to read (so a
/// lone packet is answered at once) or after <see cref="MaxBatch"/> packets. Every answer is a
/// batch verdict (for one packet it is the same as a single one), so a packet that somehow got
/// no verdict (unparsable message, failed send) is settled by the next answer instead of
/// occupying the queue forever. A packet the engine rewrote (NAT, mangle targets) is answered
/// on its own, after the pending batch, with a verdict that carries the new bytes. Nothing is
/// allocated per packet.
/// </summary>
public sealed class QueueWorker
{
    /// <summary>Packets answered by one batch verdict at most.</summary>
    public const int MaxBatch = 64;
    private const int PollMs = 100;

    private readonly NfQueue _queue;
    private readonly PacketPath _path;
    private readonly TextWriter _log;
    private readonly Packet _packet = new();
    private Thread? _thread;
    private volatile bool _stop;
    private bool _pending;
    private uint _pendingId, _pendingVerdict;
    private long _packets, _accepted, _dropped, _rewritten, _errors;

    public QueueWorker(NfQueue queue, PacketPath path, TextWriter log)
    {
        _queue = queue;
        _path = path;
        _log = log;
    }

    public ushort QueueNumber => _queue.Number;
    public long Packets => Interlocked.Read(ref _packets);
    public long Accepted => Interlocked.Read(ref _accepted);
    public long Dropped => Interlocked.Read(ref _dropped);
    /// <summary>Packets handed back to the kernel with new bytes.</summary>
    public long Rewritten => Interlocked.Read(ref _rewritten);
    /// <summary>Failures to send a verdict, plus the kernel's error answers to verdicts.</summary>
    public long Errors => Interlocked.Read(ref _errors) + _queue.VerdictErrors;

    /// <summary>Starts the worker thread.</summary>
    public void Start()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = $"nfqueue-{_queue.Number}" };
        _thread.Start();
    }

    /// <summary>Answers what is already queued, then stops the thread (waits up to <paramref name="timeout"/>).</summary>
    public bool Stop(TimeSpan timeout)
    {
        _stop = true;
        return _thread?.Join(timeout) ?? true;
    }

    private void Run()
    {
        while (!_stop)
        {
            try
            {
                ServeOnce(PollMs);
            }
            catch (Exception e)
            {
                // A failed send (or a bug) must not end the thread: the queue would fill and drop
                // everything. Packets left without a verdict are covered by the next batch verdict.
                Interlocked.Increment(ref _errors);
                _log.WriteLine($"sharptablesd: queue {_queue.Number}: {e.Message}");
                _pending = false;
                Thread.Sleep(10);
            }
        }
        // Drain: the diversion is gone by now; answer what the socket still holds.
        try
        {
            while (ServeOnce(0)) { }
        }
        catch (Exception)
        {
            // Stopping anyway; the kernel drops what is left when the queue closes.
        }
    }

    /// <summary>Waits up to <paramref name="timeoutMs"/> for packets and answers all that are ready (up to a batch). False when none came.</summary>
    internal bool ServeOnce(int timeoutMs)
    {
        if (!_queue.TryReceive(out var q, timeoutMs)) return false;
        int n = 0;
        do
        {
            uint verdict = _path.Decide(q, _packet, out bool rewritten);
            Interlocked.Increment(ref _packets);
            if (verdict == NfVerdict.Accept) Interlocked.Increment(ref _accepted);
            else if (verdict == NfVerdict.Drop) Interlocked.Increment(ref _dropped);
            if (rewritten)
            {
                Interlocked.Increment(ref _rewritten);
                Flush();
                _queue.VerdictWithPayload(q.Id, verdict, _packet.Mark, _packet.Bytes);
            }
            else Answer(q.Id, verdict, q.Mark, _packet.Mark);
        }
        while (++n < MaxBatch && _queue.TryReceive(out q, 0));
        Flush();
        return true;
    }

    private void Answer(uint id, uint verdict, uint kernelMark, uint mark)
    {
        if (mark != kernelMark)
        {
            Flush();
            _queue.VerdictBatch(id, verdict, mark);
            return;
        }
        if (_pending && verdict != _pendingVerdict) Flush();
        _pending = true;
        _pendingId = id;
        _pendingVerdict = verdict;
    }

    private void Flush()
    {
        if (!_pending) return;
        _pending = false;
        _queue.VerdictBatch(_pendingId, _pendingVerdict);
    }
}
