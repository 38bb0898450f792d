using System.Buffers.Binary;
using SharpTables.Packets;

namespace SharpTables.Engine.Conntrack;

/// <summary>What a protocol tracker tells nf_conntrack_in (NF_ACCEPT, -NF_ACCEPT = invalid, NF_DROP, -NF_REPEAT).</summary>
internal enum TrackVerdict : byte
{
    Accept,
    /// <summary>-NF_ACCEPT: the packet goes on without a conntrack entry (INVALID).</summary>
    Invalid,
    /// <summary>-NF_REPEAT: the old entry was killed; look the packet up again (TCP reopening a closed connection).</summary>
    Repeat,
}

/// <summary>
/// TCP connection tracking (nf_conntrack_proto_tcp.c): the flag sanity check (tcp_error), the
/// state machine tcp_conntracks[dir][index][state], window tracking (tcp_in_window) and the
/// per-state timeouts. Works on the packet bytes; allocates nothing.
/// </summary>
internal static class TcpTracker
{
    private const byte sNO = 0, sSS = 1, sSR = 2, sES = 3, sFW = 4, sCW = 5, sLA = 6, sTW = 7, sCL = 8, sS2 = 9;
    /// <summary>TCP_CONNTRACK_MAX: the packet is invalid.</summary>
    private const byte sIV = 10;
    /// <summary>TCP_CONNTRACK_IGNORE: let it through without changing state.</summary>
    private const byte sIG = 11;

    // enum tcp_bit_set
    internal const byte SynSet = 0, SynAckSet = 1, FinSet = 2, AckSet = 3, RstSet = 4, NoneSet = 5;

    private const int Retrans = 10, Unack = 11;
    private const uint Secs = EngineClock.Hz;

    /// <summary>tcp_timeouts[] in jiffies, indexed by state, then TCP_CONNTRACK_RETRANS and _UNACK.</summary>
    internal static readonly uint[] Timeouts =
    [
        0, 120 * Secs, 60 * Secs, 5 * 24 * 3600 * Secs, 120 * Secs, 60 * Secs, 30 * Secs, 120 * Secs, 10 * Secs, 120 * Secs,
        300 * Secs, 300 * Secs,
    ];

    /// <summary>tcp_conntrack_names[].</summary>
    internal static readonly string[] StateNames =
        ["NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2"];

    /// <summary>tcp_conntracks[2][6][TCP_CONNTRACK_MAX], as in Linux 6.18.</summary>
    private static readonly byte[] Transitions =
    [
        // ORIGINAL     sNO  sSS  sSR  sES  sFW  sCW  sLA  sTW  sCL  sS2
        /* syn    */    sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2,
        /* synack */    sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR,
        /* fin    */    sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV,
        /* ack    */    sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV,
        /* rst    */    sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL,
        /* none   */    sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV,
        // REPLY
        /* syn    */    sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2,
        /* synack */    sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR,
        /* fin    */    sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV,
        /* ack    */    sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG,
        /* rst    */    sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL,
        /* none   */    sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV,
    ];

    private static byte Next(ConnDirection dir, int index, int state) => Transitions[(int)dir * 60 + index * 10 + state];

    /// <summary>tcp_valid_flags: the combinations of FIN/SYN/RST/ACK/URG the tracker accepts (PSH, ECE, CWR are ignored).</summary>
    internal static bool ValidFlags(byte flags)
    {
        int f = flags & (TcpFlagBits.Fin | TcpFlagBits.Syn | TcpFlagBits.Rst | TcpFlagBits.Ack | TcpFlagBits.Urg);
        return f switch
        {
            TcpFlagBits.Syn or TcpFlagBits.Syn | TcpFlagBits.Urg or TcpFlagBits.Syn | TcpFlagBits.Ack => true,
            TcpFlagBits.Rst or TcpFlagBits.Rst | TcpFlagBits.Ack => true,
            TcpFlagBits.Fin | TcpFlagBits.Ack or TcpFlagBits.Fin | TcpFlagBits.Ack | TcpFlagBits.Urg => true,
            TcpFlagBits.Ack or TcpFlagBits.Ack | TcpFlagBits.Urg => true,
            _ => false,
        };
    }

    /// <summary>get_conntrack_index.</summary>
    internal static byte Index(byte flags)
    {
        if ((flags & TcpFlagBits.Rst) != 0) return RstSet;
        if ((flags & TcpFlagBits.Syn) != 0) return (flags & TcpFlagBits.Ack) != 0 ? SynAckSet : SynSet;
        if ((flags & TcpFlagBits.Fin) != 0) return FinSet;
        if ((flags & TcpFlagBits.Ack) != 0) return AckSet;
        return NoneSet;
    }

    /// <summary>The header fields the tracker needs, read once.</summary>
    private readonly ref struct Segment
    {
        public Segment(ReadOnlySpan<byte> packet, int dataoff)
        {
            Packet = packet;
            DataOffset = dataoff;
            var t = packet[dataoff..];
            Seq = BinaryPrimitives.ReadUInt32BigEndian(t[4..]);
            AckSeq = BinaryPrimitives.ReadUInt32BigEndian(t[8..]);
            HeaderLength = (t[12] >> 4) * 4;
            Flags = t[13];
            Window = BinaryPrimitives.ReadUInt16BigEndian(t[14..]);
        }

        public ReadOnlySpan<byte> Packet { get; }
        public int DataOffset { get; }
        public uint Seq { get; }
        public uint AckSeq { get; }
        public int HeaderLength { get; }
        public byte Flags { get; }
        public ushort Window { get; }
        public bool Syn => (Flags & TcpFlagBits.Syn) != 0;
        public bool Ack => (Flags & TcpFlagBits.Ack) != 0;
        public bool Rst => (Flags & TcpFlagBits.Rst) != 0;
        public bool Fin => (Flags & TcpFlagBits.Fin) != 0;

        /// <summary>segment_seq_plus_len.</summary>
        public uint End => unchecked(Seq + (uint)(Packet.Length - DataOffset - HeaderLength) + (Syn ? 1u : 0) + (Fin ? 1u : 0));

        public ReadOnlySpan<byte> Options => Packet.Slice(DataOffset + 20, HeaderLength - 20);
    }

    private static bool Before(uint a, uint b) => (int)(a - b) < 0;
    private static bool After(uint a, uint b) => (int)(b - a) < 0;

    /// <summary>tcp_error: false when the header is truncated, the checksum is bad, or the flag combination is invalid.</summary>
    internal static bool Error(ReadOnlySpan<byte> packet, int dataoff, bool verifyChecksum, in PacketInfo info)
    {
        int tcplen = packet.Length - dataoff;
        if (tcplen < 20) return true;
        int doff = (packet[dataoff + 12] >> 4) * 4;
        if (doff < 20 || tcplen < doff) return true;
        if (verifyChecksum && !Checksum.TransportValid(packet, dataoff, IpProtocol.Tcp, info)) return true;
        return !ValidFlags(packet[dataoff + 13]);
    }

    /// <summary>
    /// nf_conntrack_tcp_packet. <paramref name="packet"/> is the IP packet as long as its header says
    /// (skb->len), <paramref name="dataoff"/> the TCP header offset.
    /// </summary>
    internal static TrackVerdict Packet(ConntrackTable table, Connection ct, ReadOnlySpan<byte> packet, int dataoff, CtInfo ctinfo, uint now)
    {
        var options = table.Options;
        var seg = new Segment(packet, dataoff);

        if (!ct.Has(ConnStatus.Confirmed) && !New(ct, seg, options.TcpLoose)) return TrackVerdict.Invalid;

        var oldState = (byte)ct.TcpState;
        var dir = ctinfo >= CtInfo.EstablishedReply ? ConnDirection.Reply : ConnDirection.Original;
        int d = (int)dir, od = 1 - d;
        byte index = Index(seg.Flags);
        byte newState = Next(dir, index, oldState);

        switch (newState)
        {
            case sSS:
                if (oldState < sTW) break;
                // RFC 1122 reopen from TIME_WAIT/CLOSE, or an aborted connection the client starts again.
                if (((ct.TcpSeen[d].Flags | ct.TcpSeen[od].Flags) & TcpPeerFlags.CloseInit) != 0
                    || (ct.TcpLastDir == dir && ct.TcpLastIndex == RstSet))
                    return TrackVerdict.Repeat;
                goto case sIG;
            case sIG:
                if (index == SynAckSet && ct.TcpLastIndex == SynSet && ct.TcpLastDir != dir && seg.AckSeq == ct.TcpLastEnd)
                {
                    // The SYN/ACK acknowledges a SYN we ignored: client and server are in sync, we are not.
                    oldState = sSS;
                    newState = sSR;
                    ref var last = ref ct.TcpSeen[(int)ct.TcpLastDir];
                    last.End = ct.TcpLastEnd;
                    last.MaxEnd = ct.TcpLastEnd;
                    last.MaxWin = ct.TcpLastWin == 0 ? 1u : ct.TcpLastWin;
                    last.Scale = ct.TcpLastWscale;
                    ct.TcpLastFlags &= ~TcpPeerFlags.ChallengeAck;
                    last.Flags = ct.TcpLastFlags;
                    ResetPeer(ref ct.TcpSeen[d]);
                    break;
                }
                ct.TcpLastIndex = index;
                ct.TcpLastDir = dir;
                ct.TcpLastSeq = seg.Seq;
                ct.TcpLastEnd = seg.End;
                ct.TcpLastWin = seg.Window;
                if (index == SynSet && dir == ConnDirection.Original)
                {
                    TcpPeer seen = default;
                    ct.TcpLastFlags = TcpPeerFlags.None;
                    ct.TcpLastWscale = 0;
                    ParseOptions(seg.Options, ref seen);
                    if ((seen.Flags & TcpPeerFlags.WindowScale) != 0)
                    {
                        ct.TcpLastFlags |= TcpPeerFlags.WindowScale;
                        ct.TcpLastWscale = seen.Scale;
                    }
                    if ((seen.Flags & TcpPeerFlags.SackPerm) != 0) ct.TcpLastFlags |= TcpPeerFlags.SackPerm;
                    if (oldState == sLA) ct.TcpLastFlags |= TcpPeerFlags.ChallengeAck;
                }
                if (oldState == sSS && index == AckSet && dir == ConnDirection.Reply) ct.TcpLastAck = seg.AckSeq;
                return TrackVerdict.Accept;
            case sIV:
                return TrackVerdict.Invalid;
            case sTW:
                if (oldState == sLA && index == AckSet && ct.TcpLastDir != dir && ct.TcpLastIndex == SynSet
                    && (ct.TcpLastFlags & TcpPeerFlags.ChallengeAck) != 0)
                {
                    // RFC 5961 challenge ACK: it does not acknowledge the last FIN.
                    ct.TcpLastFlags &= ~TcpPeerFlags.ChallengeAck;
                    return TrackVerdict.Accept;
                }
                break;
            case sS2:
                ct.TcpLastFlags |= TcpPeerFlags.SimultaneousOpen;
                break;
            case sSR:
                if (dir == ConnDirection.Reply && index == AckSet && (ct.TcpLastFlags & TcpPeerFlags.SimultaneousOpen) != 0)
                    newState = sES;
                break;
            case sCL:
                if (index != RstSet) break;
                if (CanEarlyDrop(ct)) goto InWindow;
                if ((ct.TcpSeen[od].Flags & TcpPeerFlags.MaxAckSet) != 0 && ct.TcpLastIndex != SynSet)
                {
                    uint seq = seg.Seq;
                    if (seq == 0 && !Established(ct)) break;
                    if (Before(seq, ct.TcpSeen[od].MaxAck) && !options.TcpIgnoreInvalidRst) return TrackVerdict.Invalid;
                    if (!Established(ct) || seq == ct.TcpSeen[od].MaxAck) break;
                    // part of a train: data then RST at its end
                    if (ct.TcpLastIndex == AckSet && ct.TcpLastDir == dir && seq == ct.TcpLastEnd) break;
                    // keep the state so a challenge ACK can follow
                    newState = oldState;
                }
                if (((ct.Has(ConnStatus.SeenReply) && ct.TcpLastIndex == SynSet)
                     || (!ct.Has(ConnStatus.Assured) && ct.TcpLastIndex == AckSet))
                    && seg.AckSeq == ct.TcpLastEnd)
                    goto InWindow; // RST answering a SYN or ACK we let through
                if (oldState == sSS && ct.TcpLastIndex == AckSet && ct.TcpLastDir == ConnDirection.Reply && seg.Seq == ct.TcpLastAck)
                    goto InWindow; // RST answering a challenge ACK
                break;
        }

        switch (InWindow(ct, dir, index, seg, options.TcpBeLiberal))
        {
            case WindowResult.Ignore:
                return TrackVerdict.Accept;
            case WindowResult.Invalid:
                HandleInvalid(ct, dir, index, now);
                return TrackVerdict.Invalid;
        }

        InWindow:
        ct.TcpLastIndex = index;
        ct.TcpLastDir = dir;
        ct.TcpState = (TcpConntrackState)newState;
        if (oldState != newState && newState == sFW) ct.TcpSeen[d].Flags |= TcpPeerFlags.CloseInit;

        uint timeout;
        if (ct.TcpRetrans >= options.TcpMaxRetrans && Timeouts[newState] > Timeouts[Retrans]) timeout = Timeouts[Retrans];
        else if (index == RstSet) timeout = Timeouts[sCL];
        else if (((ct.TcpSeen[0].Flags | ct.TcpSeen[1].Flags) & TcpPeerFlags.DataUnacknowledged) != 0
                 && Timeouts[newState] > Timeouts[Unack]) timeout = Timeouts[Unack];
        else if (ct.TcpLastWin == 0 && Timeouts[newState] > Timeouts[Retrans]) timeout = Timeouts[Retrans];
        else timeout = Timeouts[newState];

        if (!ct.Has(ConnStatus.SeenReply))
        {
            // The only reply is a RST: no connection, delete the entry at once.
            if (seg.Rst)
            {
                table.Kill(ct);
                return TrackVerdict.Accept;
            }
            // A retransmitted SYN does not renew the timeout.
            if (index == SynSet && oldState == sSS) return TrackVerdict.Accept;
            // Picked up mid-stream without a reply: no 5-day timeout.
            if (newState == sES && timeout > Timeouts[Unack]) timeout = Timeouts[Unack];
        }
        else if (!ct.Has(ConnStatus.Assured) && (oldState == sSR || oldState == sES) && newState == sES)
        {
            ct.SetStatus(ConnStatus.Assured);
        }
        ConntrackTable.Refresh(ct, timeout, now);
        return TrackVerdict.Accept;
    }

    /// <summary>nf_conntrack_tcp_established.</summary>
    private static bool Established(Connection ct) => ct.TcpState == TcpConntrackState.Established && ct.Has(ConnStatus.Assured);

    /// <summary>tcp_can_early_drop: closing states may be evicted even when assured.</summary>
    internal static bool CanEarlyDrop(Connection ct) => ct.TcpState is TcpConntrackState.FinWait or TcpConntrackState.LastAck
        or TcpConntrackState.TimeWait or TcpConntrackState.Close or TcpConntrackState.CloseWait;

    private static void ResetPeer(ref TcpPeer peer)
    {
        peer.End = peer.MaxEnd = peer.MaxWin = peer.MaxAck = 0;
        peer.Scale = 0;
        peer.Flags &= TcpPeerFlags.BeLiberal;
    }

    /// <summary>tcp_new: the state of a connection's first packet; false when it cannot start one.</summary>
    private static bool New(Connection ct, in Segment seg, bool loose)
    {
        byte newState = Next(ConnDirection.Original, Index(seg.Flags), sNO);
        if (newState >= sIV) return false;
        ref var s0 = ref ct.TcpSeen[0];
        if (newState == sSS)
        {
            ct.TcpSeen = default;
            s0.End = seg.End;
            s0.MaxWin = seg.Window == 0 ? 1u : seg.Window;
            s0.MaxEnd = s0.End;
            ParseOptions(seg.Options, ref s0);
        }
        else if (!loose)
        {
            return false;
        }
        else
        {
            // Mid-stream pickup: use what the packet tells, and be liberal about the window.
            ct.TcpSeen = default;
            s0.End = seg.End;
            s0.MaxWin = seg.Window == 0 ? 1u : seg.Window;
            s0.MaxEnd = unchecked(s0.End + s0.MaxWin);
            s0.Flags = ct.TcpSeen[1].Flags = TcpPeerFlags.SackPerm | TcpPeerFlags.BeLiberal;
        }
        ct.TcpLastIndex = NoneSet;
        return true;
    }

    private enum WindowResult : byte { Ignore, Invalid, Accept }

    private const uint MaxAckWinConst = 66000;

    private static uint MaxAckWindow(in TcpPeer sender) => sender.MaxWin > MaxAckWinConst ? sender.MaxWin : MaxAckWinConst;

    /// <summary>nf_tcp_log_invalid: a liberal sender (or nf_conntrack_tcp_be_liberal) turns a failed check into acceptance.</summary>
    private static WindowResult Fail(in TcpPeer sender, bool beLiberal, WindowResult result) =>
        beLiberal || (sender.Flags & TcpPeerFlags.BeLiberal) != 0 ? WindowResult.Accept : result;

    /// <summary>tcp_in_window.</summary>
    private static WindowResult InWindow(Connection ct, ConnDirection dir, byte index, in Segment seg, bool beLiberal)
    {
        ref var sender = ref ct.TcpSeen[(int)dir];
        ref var receiver = ref ct.TcpSeen[1 - (int)dir];
        uint seq = seg.Seq, ack = seg.AckSeq, sack = ack;
        uint winRaw = seg.Window, win = winRaw;
        uint end = seg.End;

        if ((receiver.Flags & TcpPeerFlags.SackPerm) != 0) Sack(seg.Options, ref sack);

        if (sender.MaxWin == 0)
        {
            if (seg.Syn)
            {
                InitSender(ref sender, ref receiver, seg, end, win, dir);
                if (!seg.Ack) return WindowResult.Accept; // simultaneous open
            }
            else
            {
                // Mid-connection: the history is lost, take the packet's data.
                sender.End = end;
                uint swin0 = win << sender.Scale;
                sender.MaxWin = swin0 == 0 ? 1 : swin0;
                sender.MaxEnd = unchecked(end + sender.MaxWin);
                if (receiver.MaxWin == 0) receiver.End = receiver.MaxEnd = sack;
                else if (sack == unchecked(receiver.End + 1)) receiver.End++; // reply to a keepalive
            }
        }
        else if (seg.Syn && After(end, sender.End) && (ct.TcpState == TcpConntrackState.SynSent || ct.TcpState == TcpConntrackState.SynRecv))
        {
            // RFC 793: a reinitialized TCP uses larger sequence numbers; take the new SYN's data.
            InitSender(ref sender, ref receiver, seg, end, win, dir);
            if (dir == ConnDirection.Reply && !seg.Ack) return WindowResult.Accept;
        }

        if (!seg.Ack)
            ack = sack = receiver.End;
        else if ((seg.Flags & (TcpFlagBits.Ack | TcpFlagBits.Rst)) == (TcpFlagBits.Ack | TcpFlagBits.Rst) && ack == 0)
            ack = sack = receiver.End; // broken stacks: RST with ACK set and a zero ack

        if (seg.Rst && seq == 0 && ct.TcpState == TcpConntrackState.SynSent)
            seq = end = sender.End; // RST answering a SYN

        bool inRecvWin;
        bool seqOk = Before(seq, unchecked(sender.MaxEnd + 1));
        if (!seqOk)
        {
            uint overshot = unchecked(end - sender.MaxEnd + 1);
            bool ackOk = After(sack, unchecked(receiver.End - MaxAckWindow(sender) - 1));
            inRecvWin = receiver.MaxWin != 0 && After(end, unchecked(sender.End - receiver.MaxWin - 1));
            if (inRecvWin && ackOk && overshot <= receiver.MaxWin && Before(sack, unchecked(receiver.End + 1)))
            {
                // More bytes than the receive window allows: remember them so the peer's ACK fits.
                sender.End = end;
                sender.Flags |= TcpPeerFlags.DataUnacknowledged;
                return Fail(sender, beLiberal, WindowResult.Ignore);
            }
            return Fail(sender, beLiberal, WindowResult.Invalid); // SEQ is over the upper bound
        }

        if (!Before(sack, unchecked(receiver.End + 1)))
            return Fail(sender, beLiberal, WindowResult.Invalid); // ACK is over the upper bound

        inRecvWin = receiver.MaxWin == 0 || After(end, unchecked(sender.End - receiver.MaxWin - 1));
        if (!inRecvWin) return Fail(sender, beLiberal, WindowResult.Ignore); // already ACKed data retransmitted
        if (!After(sack, unchecked(receiver.End - MaxAckWindow(sender) - 1)))
            return Fail(sender, beLiberal, WindowResult.Ignore); // ACK under the lower bound

        if (!seg.Syn) win <<= sender.Scale;

        uint swin = unchecked(win + (sack - ack));
        if (sender.MaxWin < swin) sender.MaxWin = swin;
        if (After(end, sender.End))
        {
            sender.End = end;
            sender.Flags |= TcpPeerFlags.DataUnacknowledged;
        }
        if (seg.Ack)
        {
            if ((sender.Flags & TcpPeerFlags.MaxAckSet) == 0)
            {
                sender.MaxAck = ack;
                sender.Flags |= TcpPeerFlags.MaxAckSet;
            }
            else if (After(ack, sender.MaxAck))
            {
                sender.MaxAck = ack;
            }
        }

        if (receiver.MaxWin != 0 && After(end, sender.MaxEnd)) receiver.MaxWin += unchecked(end - sender.MaxEnd);
        if (After(unchecked(sack + win), unchecked(receiver.MaxEnd - 1)))
        {
            receiver.MaxEnd = unchecked(sack + win);
            if (win == 0) receiver.MaxEnd++;
        }
        if (ack == receiver.End) receiver.Flags &= ~TcpPeerFlags.DataUnacknowledged;

        if (index == AckSet)
        {
            if (ct.TcpLastDir == dir && ct.TcpLastSeq == seq && ct.TcpLastAck == ack && ct.TcpLastEnd == end && ct.TcpLastWin == winRaw)
            {
                if (ct.TcpRetrans < byte.MaxValue) ct.TcpRetrans++;
            }
            else
            {
                ct.TcpLastDir = dir;
                ct.TcpLastSeq = seq;
                ct.TcpLastAck = ack;
                ct.TcpLastEnd = end;
                ct.TcpLastWin = (ushort)winRaw;
                ct.TcpRetrans = 0;
            }
        }
        return WindowResult.Accept;
    }

    /// <summary>tcp_init_sender: a SYN-ACK (or a simultaneous-open SYN) sets up the sender's window.</summary>
    private static void InitSender(ref TcpPeer sender, ref TcpPeer receiver, in Segment seg, uint end, uint win, ConnDirection dir)
    {
        sender.End = sender.MaxEnd = end;
        sender.MaxWin = win == 0 ? 1 : win;
        ParseOptions(seg.Options, ref sender);
        // RFC 1323: window scaling only when both sides offered it.
        if (dir == ConnDirection.Reply
            && !((sender.Flags & TcpPeerFlags.WindowScale) != 0 && (receiver.Flags & TcpPeerFlags.WindowScale) != 0))
        {
            sender.Scale = 0;
            receiver.Scale = 0;
        }
    }

    /// <summary>nf_tcp_handle_invalid: an out-of-window FIN/RST answering one from the other side shortens an assured entry's life.</summary>
    private static void HandleInvalid(Connection ct, ConnDirection dir, byte index, uint now)
    {
        if (!ct.Has(ConnStatus.Assured) || ct.Has(ConnStatus.FixedTimeout)) return;
        if (index != RstSet && index != FinSet) return;
        if (ct.TcpLastDir != dir && (ct.TcpLastIndex == FinSet || ct.TcpLastIndex == RstSet))
        {
            uint expires = ConntrackTable.Expires(ct, now);
            if (expires < 120 * Secs) return;
            if (expires > Timeouts[Unack]) ct.Timeout = unchecked(Timeouts[Unack] + now);
        }
        else
        {
            ct.TcpLastIndex = index;
            ct.TcpLastDir = dir;
        }
    }

    /// <summary>tcp_options: window scale and SACK-permitted.</summary>
    private static void ParseOptions(ReadOnlySpan<byte> opts, ref TcpPeer state)
    {
        if (opts.Length == 0) return;
        state.Scale = 0;
        state.Flags &= TcpPeerFlags.BeLiberal;
        int i = 0;
        while (i < opts.Length)
        {
            byte opcode = opts[i++];
            if (opcode == 0) return; // EOL
            if (opcode == 1) continue; // NOP
            if (opts.Length - i < 1) return;
            int opsize = opts[i++];
            if (opsize < 2 || opsize > opts.Length - i + 2) return;
            if (opcode == 4 && opsize == 2)
            {
                state.Flags |= TcpPeerFlags.SackPerm;
            }
            else if (opcode == 3 && opsize == 3)
            {
                state.Scale = Math.Min(opts[i], (byte)14);
                state.Flags |= TcpPeerFlags.WindowScale;
            }
            i += opsize - 2;
        }
    }

    /// <summary>tcp_sack: the highest right edge of the SACK blocks.</summary>
    private static void Sack(ReadOnlySpan<byte> opts, ref uint sack)
    {
        if (opts.Length == 0) return;
        // fast path for a timestamp-only option block
        if (opts.Length == 12 && BinaryPrimitives.ReadUInt32BigEndian(opts) == 0x0101080a) return;
        int i = 0;
        while (i < opts.Length)
        {
            byte opcode = opts[i++];
            if (opcode == 0) return;
            if (opcode == 1) continue;
            if (opts.Length - i < 1) return;
            int opsize = opts[i++];
            if (opsize < 2 || opsize > opts.Length - i + 2) return;
            if (opcode == 5 && opsize >= 10 && (opsize - 2) % 8 == 0)
            {
                for (int b = 0; b < opsize - 2; b += 8)
                {
                    uint right = BinaryPrimitives.ReadUInt32BigEndian(opts[(i + b + 4)..]);
                    if (After(right, sack)) sack = right;
                }
                return;
            }
            i += opsize - 2;
        }
    }
}
