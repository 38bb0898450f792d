using System.Buffers.Binary;

namespace SharpTables.Netlink;

/// <summary>NFQA_CFG_F_* queue flags.</summary>
[Flags]
public enum NfQueueFlags : uint
{
    None = 0,
    /// <summary>Accept packets instead of dropping them when the queue is full.</summary>
    FailOpen = 1,
    /// <summary>Attach conntrack data (EOPNOTSUPP on kernels without nf_conntrack netlink).</summary>
    Conntrack = 2,
    /// <summary>Deliver GSO packets whole and with partial checksums (NFQA_SKB_INFO says so) instead of segmenting them.</summary>
    Gso = 4,
    /// <summary>Report the owner (NFQA_UID/NFQA_GID) of locally generated packets.</summary>
    UidGid = 8,
}

/// <summary>How to bind a queue.</summary>
public sealed class NfQueueOptions
{
    /// <summary>Bytes of each packet to copy (NFQNL_COPY_PACKET with this range); 0xffff = whole packets.</summary>
    public int CopyRange { get; init; } = 0xffff;
    /// <summary>NFQA_CFG_QUEUE_MAXLEN: packets waiting for a verdict before the kernel drops (or with FailOpen accepts).</summary>
    public int MaxLength { get; init; } = 4096;
    public NfQueueFlags Flags { get; init; } = NfQueueFlags.Gso | NfQueueFlags.UidGid;
    /// <summary>The socket's receive buffer (SO_RCVBUFFORCE).</summary>
    public int ReceiveBufferBytes { get; init; } = 8 << 20;
}

/// <summary>
/// One nfnetlink_queue queue bound over its own netlink socket: receives NFQNL_MSG_PACKET
/// messages and sends verdicts. <see cref="TryReceive"/> parses into an <see cref="NfQueuePacket"/>
/// that points into a reused buffer, so the steady state allocates nothing. Not thread-safe: one
/// thread receives and answers.
/// </summary>
public sealed class NfQueue : IDisposable
{
    private const byte SubsysQueue = 3; // NFNL_SUBSYS_QUEUE
    private const byte MsgPacket = 0, MsgVerdict = 1, MsgConfig = 2, MsgVerdictBatch = 3;
    private const byte CmdBind = 1, CmdUnbind = 2;
    private const byte CopyPacket = 2; // NFQNL_COPY_PACKET

    private readonly NetlinkSocket _socket;
    private readonly byte[] _rx = new byte[0x10000 + 4096];
    private readonly byte[] _tx = new byte[128];
    private byte[]? _txPayload; // verdicts carrying a packet; allocated on first use
    private int _rxLength, _rxOffset;
    private uint _sequence;
    private bool _disposed;

    private NfQueue(NetlinkSocket socket, ushort number)
    {
        _socket = socket;
        Number = number;
    }

    /// <summary>The queue number.</summary>
    public ushort Number { get; }
    /// <summary>Error messages the kernel sent back for verdicts (e.g. ENOENT for an id it no longer holds).</summary>
    public long VerdictErrors { get; private set; }
    /// <summary>Times the socket lost messages (ENOBUFS); the kernel dropped or accepted those packets itself.</summary>
    public long Overruns { get; private set; }

    /// <summary>
    /// Opens a netlink socket and binds queue <paramref name="number"/> (NFQNL_CFG_CMD_BIND), copy mode
    /// NFQNL_COPY_PACKET, queue length and flags. Throws <see cref="NetlinkException"/> with EBUSY when
    /// another program holds the queue, EPERM without CAP_NET_ADMIN.
    /// </summary>
    public static NfQueue Open(ushort number, NfQueueOptions? options = null)
    {
        options ??= new NfQueueOptions();
        var socket = NetlinkSocket.Open(12); // NETLINK_NETFILTER
        var queue = new NfQueue(socket, number);
        try
        {
            socket.SetReceiveBuffer(options.ReceiveBufferBytes);
            // Never report ENOBUFS: a lost message is a packet the kernel already dropped (or accepted with fail-open).
            socket.SetNetlinkOption(Native.NETLINK_NO_ENOBUFS, 1);
            // Acks and errors echo only the header, not a whole verdict with payload.
            socket.SetNetlinkOption(Native.NETLINK_CAP_ACK, 1);
            queue.Configure(number, options);
            return queue;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private void Configure(ushort number, NfQueueOptions options)
    {
        var w = Begin(MsgConfig, Nl.NLM_F_REQUEST | Nl.NLM_F_ACK, out uint seq);
        var cmd = w.Attribute(NfqAttr.CfgCmd, 4); // struct nfqnl_msg_config_cmd { u8 command; u8 pad; be16 pf; }
        cmd[0] = CmdBind;
        w.EndMessage();
        SendAndWaitAck(w.Written, seq, $"binding NFQUEUE {number}");

        w = Begin(MsgConfig, Nl.NLM_F_REQUEST | Nl.NLM_F_ACK, out seq);
        var prm = w.Attribute(NfqAttr.CfgParams, 5); // struct nfqnl_msg_config_params { be32 copy_range; u8 copy_mode; } packed
        BinaryPrimitives.WriteUInt32BigEndian(prm, (uint)options.CopyRange);
        prm[4] = CopyPacket;
        w.AttributeBE32(NfqAttr.CfgQueueMaxLen, (uint)options.MaxLength);
        w.EndMessage();
        SendAndWaitAck(w.Written, seq, $"setting copy mode of NFQUEUE {number}");

        if (options.Flags == NfQueueFlags.None) return;
        w = Begin(MsgConfig, Nl.NLM_F_REQUEST | Nl.NLM_F_ACK, out seq);
        w.AttributeBE32(NfqAttr.CfgMask, (uint)options.Flags);
        w.AttributeBE32(NfqAttr.CfgFlags, (uint)options.Flags);
        w.EndMessage();
        SendAndWaitAck(w.Written, seq, $"setting flags {options.Flags} of NFQUEUE {number}");
    }

    private NetlinkWriter Begin(byte kind, ushort flags, out uint seq)
    {
        seq = ++_sequence;
        var w = new NetlinkWriter(_tx);
        w.BeginMessage((ushort)(SubsysQueue << 8 | kind), flags, seq);
        w.NfGenHeader(0 /* AF_UNSPEC */, Number);
        return w;
    }

    /// <summary>
    /// Sends a config request and reads until its acknowledgement. Packets that arrive meanwhile
    /// (diversion rules may already be in place) get NF_REPEAT: the hook runs again and queues
    /// them anew, now to a fully configured queue.
    /// </summary>
    private void SendAndWaitAck(ReadOnlySpan<byte> request, uint seq, string what)
    {
        _socket.Send(request);
        var deadline = Environment.TickCount64 + 5000;
        while (true)
        {
            int remaining = (int)(deadline - Environment.TickCount64);
            if (remaining <= 0) throw new NetlinkException(110 /* ETIMEDOUT */, what);
            int n = _socket.Receive(_rx, remaining);
            if (n <= 0) continue;
            int offset = 0;
            while (NetlinkMessageReader.TryRead(_rx.AsSpan(0, n), ref offset, out var m))
            {
                if (m.Type == Nl.NLMSG_ERROR && m.Sequence == seq)
                {
                    if (m.Errno != 0) throw new NetlinkException(m.Errno, what);
                    return;
                }
                if (m.Subsystem == SubsysQueue && m.Kind == MsgPacket && NfQueuePacket.TryParse(m.Payload, out var p))
                    Verdict(p.Id, NfVerdict.Repeat);
            }
        }
    }

    /// <summary>
    /// Waits up to <paramref name="timeoutMs"/> (0 = only what is already there) for the next packet.
    /// The packet's spans stay valid until the next call. Error messages in between (answers to
    /// verdicts) are counted in <see cref="VerdictErrors"/> and skipped.
    /// </summary>
    public bool TryReceive(out NfQueuePacket packet, int timeoutMs)
    {
        while (true)
        {
            while (_rxOffset < _rxLength)
            {
                if (!NetlinkMessageReader.TryRead(_rx.AsSpan(0, _rxLength), ref _rxOffset, out var m)) break;
                if (m.Subsystem == SubsysQueue && m.Kind == MsgPacket)
                {
                    if (NfQueuePacket.TryParse(m.Payload, out packet)) return true;
                }
                else if (m.Type == Nl.NLMSG_ERROR && m.Errno > 0) VerdictErrors++;
            }
            _rxOffset = _rxLength = 0;
            int n = _socket.Receive(_rx, timeoutMs);
            if (n < 0) { Overruns++; continue; }
            if (n == 0) { packet = default; return false; }
            _rxLength = n;
            timeoutMs = 0;
        }
    }

    /// <summary>Sends the verdict for one packet (NFQNL_MSG_VERDICT).</summary>
    public void Verdict(uint id, uint verdict) => SendVerdict(MsgVerdict, id, verdict, null);

    /// <summary>Sends the verdict for one packet and sets its mark (NFQA_MARK).</summary>
    public void Verdict(uint id, uint verdict, uint mark) => SendVerdict(MsgVerdict, id, verdict, mark);

    /// <summary>
    /// The largest packet a verdict can carry: nla_len is 16 bits and includes the 4-byte
    /// attribute header (NFQNL_MAX_COPY_RANGE, the same bound the kernel copies packets with).
    /// </summary>
    public const int MaxPayload = 0xffff - Nl.AttrHeaderLength;

    /// <summary>
    /// NFQNL_MSG_VERDICT with NFQA_PAYLOAD: the kernel replaces the queued packet by
    /// <paramref name="packet"/> (from the IP header; its length may differ, nfqnl_mangle trims or
    /// extends the skb), sets the mark, then applies the verdict. The kernel marks the skb
    /// CHECKSUM_NONE and fixes no checksum, so the packet's own IP and transport checksums must be
    /// right. Throws <see cref="ArgumentException"/> when the packet is longer than <see cref="MaxPayload"/>.
    /// </summary>
    public void VerdictWithPayload(uint id, uint verdict, uint mark, ReadOnlySpan<byte> packet)
    {
        if (packet.Length > MaxPayload) throw new ArgumentException($"a verdict carries at most {MaxPayload} bytes", nameof(packet));
        var buffer = _txPayload ??= new byte[Nl.HeaderLength + Nl.NfGenLength + 3 * Nl.AttrHeaderLength + 8 + 4 + Nl.Align(MaxPayload)];
        var w = new NetlinkWriter(buffer);
        w.BeginMessage((ushort)(SubsysQueue << 8 | MsgVerdict), Nl.NLM_F_REQUEST, ++_sequence);
        w.NfGenHeader(0 /* AF_UNSPEC */, Number);
        var h = w.Attribute(NfqAttr.VerdictHeader, 8);
        BinaryPrimitives.WriteUInt32BigEndian(h, verdict);
        BinaryPrimitives.WriteUInt32BigEndian(h[4..], id);
        w.AttributeBE32(NfqAttr.Mark, mark);
        w.Attribute(NfqAttr.Payload, packet);
        w.EndMessage();
        _socket.Send(w.Written);
    }

    /// <summary>NFQNL_MSG_VERDICT_BATCH: the verdict for every packet still waiting whose id is at most <paramref name="id"/>.</summary>
    public void VerdictBatch(uint id, uint verdict) => SendVerdict(MsgVerdictBatch, id, verdict, null);

    /// <summary>A batch verdict that also sets the mark of all those packets.</summary>
    public void VerdictBatch(uint id, uint verdict, uint mark) => SendVerdict(MsgVerdictBatch, id, verdict, mark);

    private void SendVerdict(byte kind, uint id, uint verdict, uint? mark)
    {
        var w = Begin(kind, Nl.NLM_F_REQUEST, out _);
        var h = w.Attribute(NfqAttr.VerdictHeader, 8); // struct nfqnl_msg_verdict_hdr { be32 verdict; be32 id; }
        BinaryPrimitives.WriteUInt32BigEndian(h, verdict);
        BinaryPrimitives.WriteUInt32BigEndian(h[4..], id);
        if (mark is uint m) w.AttributeBE32(NfqAttr.Mark, m);
        w.EndMessage();
        _socket.Send(w.Written);
    }

    /// <summary>Unbinds the queue and closes the socket; the kernel drops packets still waiting for a verdict.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        try
        {
            var w = Begin(MsgConfig, Nl.NLM_F_REQUEST, out _);
            w.Attribute(NfqAttr.CfgCmd, 4)[0] = CmdUnbind;
            w.EndMessage();
            _socket.Send(w.Written);
        }
        catch (NetlinkException)
        {
            // Closing the socket unbinds as well.
        }
        _socket.Dispose();
    }
}
