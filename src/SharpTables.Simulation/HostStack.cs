using System.Buffers.Binary;
using SharpTables.Packets;
using SharpTables.Engine.Targets;

namespace SharpTables.Simulation;

/// <summary>
/// Which socket a host's packet leaves through, as -m owner, LOG --log-uid and recent see skb->sk:
/// a kernel control socket (the TCP one for RSTs without a socket, the ICMP one for ICMP errors
/// and echo replies: a socket but no owner), a request socket (SYN-ACK: the owner match sees the listener's owner, LOG none), or a
/// full socket (a listener's RST, a connection's segments: owner root, as the oracle's sockets).
/// </summary>
internal enum ReplySocket : byte { Kernel, KernelIcmp, Request, Full }

/// <summary>A packet the host sends, with the socket it leaves through.</summary>
/// <param name="KeepsConntrack">
/// An ICMP error that carries the conntrack entry of the packet it answers (icmp_glue_bits'
/// nf_ct_attach); false when the stack dropped the entry first (UDP's no-socket path calls
/// nf_reset_ct before icmp_send).
/// </param>
internal readonly record struct HostReply(byte[] Bytes, ReplySocket Socket, bool KeepsConntrack = false);

/// <summary>TCP states of the host model's sockets (a small subset of Linux's).</summary>
internal enum SockState { SynSent, SynRecv, Established, FinWait1, FinWait2, CloseWait, LastAck, TimeWait, Closed, Refused, Error }

/// <summary>One TCP connection of a modelled host.</summary>
internal sealed class TcpSock
{
    public required byte Version;
    public required UInt128 Local, Remote;
    public required ushort LocalPort, RemotePort;
    public SockState State;
    public uint SndNxt, RcvNxt;
    public bool Timestamps, Sack, WindowScale;
    public bool IsClient;
    public bool PeerClosed;
    /// <summary>The error an ICMP error gave connect() (state <see cref="SockState.Error"/>), as Python's errno names it.</summary>
    public string? Errno;
    /// <summary>IPv6 flow label of this socket's packets (the kernel derives it from a random hash).</summary>
    public uint FlowLabel;
    /// <summary>When the last out-of-window answer (or SYN-ACK retransmission) went out, for the 500 ms rate limit.</summary>
    public double? LastOutOfWindowAnswerMs;
    /// <summary>When a request socket (SYN_RECV) is dropped by its timer, in ms.</summary>
    public double RequestExpiresMs;
    /// <summary>ECN was negotiated: the SYN carried ECE and CWR (tcp_ecn=2 accepts what a peer asks for).</summary>
    public bool Ecn;
}

/// <summary>
/// How a Linux host answers packets addressed to it, as far as a firewall's counters can tell:
/// listening TCP sockets answer SYNs with a SYN-ACK (options mirroring the SYN's), closed ports
/// answer with RST or ICMP port unreachable, echo requests get replies, and the sockets of
/// <c>tcp_connect</c> lines run a handshake, data, and an orderly close. No retransmissions.
/// A "quiet" host (the oracle's client and backend) drops its own RSTs and ICMP errors.
/// </summary>
internal sealed class HostStack(string name, bool quiet, IcmpRateLimiter? icmpLimit, Func<byte, UInt128, bool> isLocal, Func<double>? nowMs = null,
    uint isnBase = ScenarioOptions.DefaultIsnBase)
{

    /// <summary>net.ipv4.tcp_invalid_ratelimit: at most one out-of-window answer per 500 ms and connection.</summary>
    private const double InvalidRateLimitMs = 500;
    /// <summary>The receive window a Linux listener offers in its SYN-ACK (and checks SYNs against while in SYN_RECV).</summary>
    private const uint SynAckWindow = 64240;
    /// <summary>
    /// A request socket lives one initial RTO (TCP_TIMEOUT_INIT, 1 s) after its last SYN-ACK: the
    /// oracle runs with tcp_synack_retries=0, so the first timer expiry drops it.
    /// </summary>
    private const double RequestLifetimeMs = 1000;

    public string Name { get; } = name;
    public bool Quiet { get; } = quiet;
    public readonly HashSet<(byte Version, ushort Port)> TcpListen = [];
    public readonly HashSet<(byte Version, ushort Port)> UdpListen = [];
    private readonly Dictionary<(UInt128, ushort, UInt128, ushort), TcpSock> _socks = new();
    private uint _isn = isnBase;
    private ushort _ephemeral = 33000;
    private ushort _ipId = 1;

    /// <summary>Whether this host owns the address (packets to it are answered by this stack).</summary>
    public bool Owns(byte version, UInt128 address) => isLocal(version, address);

    /// <summary>Opens a client connection: returns the socket and its SYN (60 bytes on IPv4, as Linux sends it).</summary>
    public (TcpSock Sock, byte[] Syn) Connect(byte version, UInt128 src, ushort sport, UInt128 dst, ushort dport, uint flowLabel = 0)
    {
        if (sport == 0) sport = _ephemeral++;
        var s = new TcpSock
        {
            Version = version, Local = src, Remote = dst, LocalPort = sport, RemotePort = dport,
            State = SockState.SynSent, SndNxt = NextIsn(), IsClient = true, Timestamps = true, Sack = true, WindowScale = true,
            FlowLabel = flowLabel,
        };
        _socks[(src, sport, dst, dport)] = s;
        var syn = Segment(s, TcpFlagBits.Syn, SynOptions(mssOnly: false, s), []);
        s.SndNxt++;
        return (s, syn);
    }

    /// <summary>The client application writes data and then shuts down writing (sendall + shutdown(SHUT_WR)).</summary>
    public List<HostReply> SendAndShutdown(TcpSock s, byte[] data)
    {
        var output = new List<HostReply>();
        if (s.State != SockState.Established) return output;
        if (data.Length > 0)
        {
            output.Add(new(Segment(s, TcpFlagBits.Psh | TcpFlagBits.Ack, DataOptions(s), data), ReplySocket.Full));
            s.SndNxt += (uint)data.Length;
        }
        output.Add(new(Segment(s, TcpFlagBits.Fin | TcpFlagBits.Ack, DataOptions(s), []), ReplySocket.Full));
        s.SndNxt++;
        s.State = SockState.FinWait1;
        return output;
    }

    /// <summary>A packet addressed to this host arrived; returns what the host sends back.</summary>
    public List<HostReply> Receive(ReadOnlySpan<byte> packet)
    {
        var output = new List<HostReply>();
        PacketParser.Parse(packet, out var info);
        if (info.IsFragment || (info.Flags & PacketFlags.MoreFragments) != 0) return output; // never reassembled here
        // Delivered to a broadcast or multicast address (IPv4): Linux never answers those. TCP
        // sends RSTs only for RTN_LOCAL and refuses connections there, UDP gives no port
        // unreachable (icmp_send skips broadcast/multicast), and echo and timestamp requests are
        // ignored (icmp_echo_ignore_broadcasts=1).
        if (info.Version == 4 && !Owns(4, info.Destination)) return output;
        switch (info.Protocol)
        {
            case IpProtocol.Tcp when info.HasTransportHeader:
                Tcp(packet, info, output);
                break;
            case IpProtocol.Udp when info.HasTransportHeader:
                if (!UdpListen.Contains((info.Version, info.DestinationPort)))
                    IcmpError(packet, info, output, info.Version == 4 ? (byte)3 : (byte)1, info.Version == 4 ? (byte)3 : (byte)4, keepsConntrack: false);
                break;
            // Only IPv4: in an oracle run IPv6 connects timed out although REJECT's ICMPv6 errors (no route,
            // prohibited, address and port unreachable) went out to the client (tests/fixtures/examples/README.md).
            case IpProtocol.Icmp when info.HasTransportHeader && info.IcmpType is 3 or 11 or 12:
                IcmpErrorToSocket(packet, info);
                break;
            case IpProtocol.Icmp when info.HasTransportHeader && info.IcmpType == 8:
            case IpProtocol.Icmpv6 when info.HasTransportHeader && info.IcmpType == 128:
                output.Add(new(EchoReply(packet, info), ReplySocket.KernelIcmp));
                break;
            case IpProtocol.Icmp when info.HasTransportHeader && info.IcmpType == 13:
                // icmp_timestamp: a request with its 12 bytes of timestamps gets a timestamp reply
                // (always 20 bytes of ICMP); a shorter one is dropped.
                if (Math.Min(packet.Length, info.TotalLength) - info.TransportOffset >= 20)
                    output.Add(new(TimestampReply(info), ReplySocket.KernelIcmp));
                break;
            case IpProtocol.Icmp:
            case IpProtocol.Icmpv6:
                break;
            default:
                if (info.Version == 4 && info.TransportOffset >= 0)
                    IcmpError(packet, info, output, 3, 2, keepsConntrack: true); // protocol unreachable
                break;
        }
        return output;
    }

    /// <summary>
    /// tcp_v4_err for a connecting socket: a destination unreachable (except fragmentation needed),
    /// time exceeded or parameter problem that quotes its SYN ends connect() with the error
    /// icmp_err_convert gives it, soft or hard alike.
    /// </summary>
    private void IcmpErrorToSocket(ReadOnlySpan<byte> packet, in PacketInfo info)
    {
        string? errno = Icmp4Errno(info.IcmpType, info.IcmpCode);
        int start = info.TransportOffset + 8, end = Math.Min(packet.Length, info.TotalLength);
        if (errno == null || start >= end) return;
        var quoted = packet[start..end];
        if (quoted.Length < 20 || quoted[0] >> 4 != 4 || quoted[9] != IpProtocol.Tcp) return;
        int l4 = (quoted[0] & 0x0f) * 4;
        UInt128 src = BinaryPrimitives.ReadUInt32BigEndian(quoted[12..]), dst = BinaryPrimitives.ReadUInt32BigEndian(quoted[16..]);
        if (quoted.Length < l4 + 8) return;
        ushort sport = BinaryPrimitives.ReadUInt16BigEndian(quoted[l4..]), dport = BinaryPrimitives.ReadUInt16BigEndian(quoted[(l4 + 2)..]);
        uint seq = BinaryPrimitives.ReadUInt32BigEndian(quoted[(l4 + 4)..]);
        if (!_socks.TryGetValue((src, sport, dst, dport), out var s) || s.State != SockState.SynSent) return;
        // between(seq, snd_una, snd_nxt): the quoted segment is one this socket sent.
        if ((int)(seq - (s.SndNxt - 1)) < 0 || (int)(seq - s.SndNxt) > 0) return;
        if (errno == "ECONNREFUSED") s.State = SockState.Refused;
        else
        {
            s.State = SockState.Error;
            s.Errno = errno;
        }
    }

    private static readonly string[] s_unreach4 =
    [
        "ENETUNREACH", "EHOSTUNREACH", "ENOPROTOOPT", "ECONNREFUSED", "", "EOPNOTSUPP", "ENETUNREACH", "EHOSTDOWN",
        "ENONET", "ENETUNREACH", "EHOSTUNREACH", "ENETUNREACH", "EHOSTUNREACH", "EHOSTUNREACH", "EHOSTUNREACH", "EHOSTUNREACH",
    ];

    /// <summary>What an ICMP error does to a connecting socket (null: nothing; fragmentation needed only lowers the MTU).</summary>
    private static string? Icmp4Errno(byte type, byte code) => type switch
    {
        3 when code < s_unreach4.Length && code != 4 => s_unreach4[code],
        11 => "EHOSTUNREACH",
        12 => "EPROTO",
        _ => null,
    };

    private void Tcp(ReadOnlySpan<byte> packet, in PacketInfo info, List<HostReply> output)
    {
        byte f = info.TcpFlags;
        bool syn = (f & TcpFlagBits.Syn) != 0, ack = (f & TcpFlagBits.Ack) != 0, rst = (f & TcpFlagBits.Rst) != 0, fin = (f & TcpFlagBits.Fin) != 0;
        int dataLen = Math.Min(packet.Length, info.TotalLength) - info.TransportOffset - info.TcpDataOffset * 4;
        if (_socks.TryGetValue((info.Destination, info.DestinationPort, info.Source, info.SourcePort), out var s)
            && s.State == SockState.SynRecv && Now >= s.RequestExpiresMs)
            s.State = SockState.Closed;
        if (s != null && s.State != SockState.Closed)
        {
            TcpOnSocket(s, info, dataLen, output);
            return;
        }
        if (rst) return;
        if (TcpListen.Contains((info.Version, info.DestinationPort)))
        {
            // LISTEN: a SYN opens a request (SYN+FIN is discarded), an ACK is answered with RST, anything else is dropped.
            if (syn && !ack && !fin)
            {
                var ns = new TcpSock
                {
                    Version = info.Version, Local = info.Destination, Remote = info.Source,
                    LocalPort = info.DestinationPort, RemotePort = info.SourcePort, State = SockState.SynRecv,
                    SndNxt = NextIsn(), RcvNxt = info.TcpSequence + 1, RequestExpiresMs = Now + RequestLifetimeMs,
                };
                ReadSynOptions(packet, info, ns);
                ns.Ecn = EcnRequested(packet, info, f);
                _socks[(ns.Local, ns.LocalPort, ns.Remote, ns.RemotePort)] = ns;
                output.Add(new(Segment(ns, SynAckFlags(ns), SynOptions(mssOnly: false, ns), []), ReplySocket.Request));
                ns.SndNxt++;
                return;
            }
            if (ack) Reset(info, dataLen, output, ReplySocket.Full); // tcp_v4_send_reset on behalf of the listener
            return;
        }
        Reset(info, dataLen, output, ReplySocket.Kernel); // no socket: the TCP control socket answers
    }

    private void TcpOnSocket(TcpSock s, in PacketInfo info, int dataLen, List<HostReply> output)
    {
        byte f = info.TcpFlags;
        bool syn = (f & TcpFlagBits.Syn) != 0, ack = (f & TcpFlagBits.Ack) != 0, rst = (f & TcpFlagBits.Rst) != 0, fin = (f & TcpFlagBits.Fin) != 0;
        if (rst)
        {
            if (s.State == SockState.SynRecv && !s.IsClient)
            {
                // tcp_check_req (RFC 5961): a RST at exactly rcv_nxt drops the request; anywhere else
                // inside the offered window it gets a challenge ACK (rate limited like every
                // out-of-window answer) and the request stays; outside the window it is ignored.
                uint seq = info.TcpSequence;
                if (seq == s.RcvNxt) s.State = SockState.Closed;
                else if ((int)(seq - s.RcvNxt) > 0 && (int)(seq - (s.RcvNxt + SynAckWindow)) <= 0 && !OutOfWindowRateLimited(s))
                    output.Add(new(Segment(s, TcpFlagBits.Ack, DataOptions(s), []), ReplySocket.Full));
                return;
            }
            if (s.State == SockState.SynSent)
            {
                // tcp_rcv_synsent_state_process: only a RST that acknowledges the SYN refuses the connection.
                if (ack && info.TcpAcknowledgment == s.SndNxt) s.State = SockState.Refused;
                return;
            }
            s.State = SockState.Closed;
            return;
        }
        switch (s.State)
        {
            case SockState.SynSent:
                if (syn && ack && info.TcpAcknowledgment == s.SndNxt)
                {
                    s.RcvNxt = info.TcpSequence + 1;
                    s.State = SockState.Established;
                    output.Add(new(Segment(s, TcpFlagBits.Ack, DataOptions(s), []), ReplySocket.Full));
                }
                return;
            case SockState.SynRecv:
                if (syn && !ack)
                {
                    // tcp_check_req on the request socket. The same SYN again (seq = the ISN) is a
                    // retransmission: the SYN-ACK is sent again, at most once per 500 ms.
                    if (info.TcpSequence == s.RcvNxt - 1)
                    {
                        if (OutOfWindowRateLimited(s)) return;
                        s.RequestExpiresMs = Now + RequestLifetimeMs; // the timer restarts after the retransmission
                        s.SndNxt--;
                        output.Add(new(Segment(s, SynAckFlags(s), SynOptions(false, s), []), ReplySocket.Request));
                        s.SndNxt++;
                        return;
                    }
                    // Another SYN: inside the offered window it resets the embryonic connection
                    // (RST, request dropped, so the next SYN starts afresh); outside it only gets
                    // an ACK, rate limited like every out-of-window answer.
                    uint endSeq = info.TcpSequence + 1 + (uint)Math.Max(0, dataLen);
                    bool inWindow = info.TcpSequence == s.RcvNxt
                        || ((int)(endSeq - s.RcvNxt) > 0 && (int)(info.TcpSequence - (s.RcvNxt + SynAckWindow)) < 0);
                    if (inWindow)
                    {
                        Reset(info, dataLen, output, ReplySocket.Full);
                        s.State = SockState.Closed;
                    }
                    else if (!OutOfWindowRateLimited(s))
                        output.Add(new(Segment(s, TcpFlagBits.Ack, DataOptions(s), []), ReplySocket.Full));
                    return;
                }
                if (!ack || info.TcpAcknowledgment != s.SndNxt)
                {
                    // tcp_check_req: a bad ACK gets a RST from the listener.
                    if (ack) Reset(info, dataLen, output, ReplySocket.Full);
                    return;
                }
                s.State = SockState.Established;
                goto case SockState.Established;
            case SockState.Established:
            case SockState.FinWait1:
            case SockState.FinWait2:
            {
                if (ack && s.State == SockState.FinWait1 && info.TcpAcknowledgment == s.SndNxt) s.State = SockState.FinWait2;
                if (dataLen > 0)
                {
                    s.RcvNxt += (uint)dataLen;
                    if (!fin) output.Add(new(Segment(s, TcpFlagBits.Ack, DataOptions(s), []), ReplySocket.Full)); // quick ACK at the start of a connection
                }
                if (fin)
                {
                    s.RcvNxt++;
                    if (s.IsClient || s.State is SockState.FinWait1 or SockState.FinWait2)
                    {
                        // We had closed already: ACK the peer's FIN and wait.
                        output.Add(new(Segment(s, TcpFlagBits.Ack, DataOptions(s), []), ReplySocket.Full));
                        s.State = SockState.TimeWait;
                        s.PeerClosed = true;
                    }
                    else
                    {
                        // The server reads EOF and closes: its FIN carries the ACK of the peer's FIN.
                        output.Add(new(Segment(s, TcpFlagBits.Fin | TcpFlagBits.Ack, DataOptions(s), []), ReplySocket.Full));
                        s.SndNxt++;
                        s.State = SockState.LastAck;
                    }
                }
                return;
            }
            case SockState.LastAck:
                if (ack && info.TcpAcknowledgment == s.SndNxt) s.State = SockState.Closed;
                return;
            default:
                return;
        }
    }

    private void Reset(in PacketInfo info, int dataLen, List<HostReply> output, ReplySocket socket)
    {
        if (Quiet || (info.TcpFlags & TcpFlagBits.Rst) != 0) return;
        // tcp_v4_send_reset: seq = the segment's ACK if it has one, else 0 with ACK = seq + length.
        var spec = new WireSpec
        {
            Version = info.Version, Src = info.Destination, Dst = info.Source, Proto = IpProtocol.Tcp,
            SrcPort = info.DestinationPort, DstPort = info.SourcePort, Window = 0, Id = 0,
            IpFlags = (byte)(info.Version == 4 ? 2 : 0),
            // ip_send_unicast_reply (IPv6: tcp_v6_send_response) reflects the offending segment's
            // TOS / traffic class without its ECN bits.
            Tos = (byte)(info.Tos & ~0x03),
        };
        if ((info.TcpFlags & TcpFlagBits.Ack) != 0)
        {
            spec.TcpFlags = TcpFlagBits.Rst;
            spec.Seq = info.TcpAcknowledgment;
        }
        else
        {
            spec.TcpFlags = TcpFlagBits.Rst | TcpFlagBits.Ack;
            uint len = (uint)Math.Max(0, dataLen);
            if ((info.TcpFlags & TcpFlagBits.Syn) != 0) len++;
            if ((info.TcpFlags & TcpFlagBits.Fin) != 0) len++;
            spec.Ack = info.TcpSequence + len;
        }
        output.Add(new(Wire.Build(spec), socket));
    }

    private void IcmpError(ReadOnlySpan<byte> packet, in PacketInfo info, List<HostReply> output, byte type, byte code, bool keepsConntrack)
    {
        if (Quiet) return;
        if (icmpLimit != null)
        {
            // icmp_send: the host-wide credit first, then the per-destination bucket (never for loopback).
            bool loopback = Owns(info.Version, info.Source);
            bool ok = info.Version == 4
                ? icmpLimit.GlobalAllow(type, code, out bool limited) && icmpLimit.PeerAllow(info.Source, loopback, limited)
                : icmpLimit.GlobalAllow6(type, out limited) && icmpLimit.PeerAllow6(info.Source, loopback, limited);
            if (!ok) return;
        }
        int total = Math.Min(packet.Length, info.TotalLength);
        int maxQuote = info.Version == 4 ? 576 - 28 : 1280 - 48;
        var spec = new WireSpec
        {
            Version = info.Version, Src = info.Destination, Dst = info.Source,
            Proto = info.Version == 4 ? IpProtocol.Icmp : IpProtocol.Icmpv6, IcmpType = type, IcmpCode = code,
            Payload = packet[..Math.Min(total, maxQuote)].ToArray(), Id = _ipId++,
            // __icmp_send: the offending packet's TOS bits (RT_TOS keeps 0x1e) with precedence "internetwork control".
            Tos = (byte)(info.Version == 4 ? (info.Tos & 0x1e) | 0xc0 : 0),
        };
        output.Add(new(Wire.Build(spec), ReplySocket.KernelIcmp, keepsConntrack)); // icmp_send: the ICMP control socket
    }

    private byte[] EchoReply(ReadOnlySpan<byte> packet, in PacketInfo info)
    {
        int total = Math.Min(packet.Length, info.TotalLength);
        var spec = new WireSpec
        {
            Version = info.Version, Src = info.Destination, Dst = info.Source,
            // icmp_echo / icmpv6_echo_reply copy the request's header and change only the type: a
            // request with a non-zero code gets a reply with that code.
            Proto = info.Protocol, IcmpType = (byte)(info.Version == 4 ? 0 : 129), IcmpCode = info.IcmpCode, IcmpId = info.IcmpId, IcmpSeq = info.IcmpSequence,
            Payload = packet[(info.TransportOffset + 8)..total].ToArray(), Id = _ipId++, Tos = info.Tos,
        };
        return Wire.Build(spec);
    }

    private byte[] TimestampReply(in PacketInfo info)
    {
        // Originate, receive and transmit timestamps: the values (ms since midnight UTC) do not
        // matter to any counter or match, so the model sends zeros.
        var spec = new WireSpec
        {
            Version = 4, Src = info.Destination, Dst = info.Source, Proto = IpProtocol.Icmp,
            IcmpType = 14, IcmpId = info.IcmpId, IcmpSeq = info.IcmpSequence,
            Payload = new byte[12], Id = _ipId++, Tos = info.Tos,
        };
        return Wire.Build(spec);
    }

    /// <summary>tcp_oow_rate_limited: true when this connection answered out of window less than 500 ms ago.</summary>
    private bool OutOfWindowRateLimited(TcpSock s)
    {
        double now = Now;
        if (s.LastOutOfWindowAnswerMs is double last && now - last >= 0 && now - last < InvalidRateLimitMs) return true;
        s.LastOutOfWindowAnswerMs = now;
        return false;
    }

    /// <summary>
    /// tcp_ecn_create_request with tcp_ecn=2: a SYN asks for ECN with ECE and CWR, but RFC 3168 SYNs
    /// are not ECN-capable themselves, so one with ECT or CE in its TOS/traffic class is granted it
    /// only when it also sets a reserved header bit (res1, the three bits above AE).
    /// </summary>
    private static bool EcnRequested(ReadOnlySpan<byte> packet, in PacketInfo info, byte flags)
    {
        if ((flags & (TcpFlagBits.Ece | TcpFlagBits.Cwr)) != (TcpFlagBits.Ece | TcpFlagBits.Cwr)) return false;
        bool ect = (info.Tos & 3) != 0;
        bool res1 = (packet[info.TransportOffset + 12] & 0x0e) != 0;
        return !ect || res1;
    }

    /// <summary>A listener's SYN-ACK: with ECE when the SYN asked for ECN (tcp_ecn_make_synack).</summary>
    private static byte SynAckFlags(TcpSock s) => (byte)(TcpFlagBits.Syn | TcpFlagBits.Ack | (s.Ecn ? TcpFlagBits.Ece : 0));

    private double Now => nowMs?.Invoke() ?? 0;

    private uint NextIsn()
    {
        _isn += 0x01000193;
        return IsnChosen?.Invoke(_isn) ?? _isn;
    }

    /// <summary>Sees (and may move) every initial sequence number this stack chooses.</summary>
    public Func<uint, uint>? IsnChosen { get; init; }

    private static void ReadSynOptions(ReadOnlySpan<byte> packet, in PacketInfo info, TcpSock s)
    {
        int start = info.TransportOffset + 20, end = Math.Min(info.TransportOffset + info.TcpDataOffset * 4, packet.Length);
        for (int i = start; i < end;)
        {
            byte kind = packet[i];
            if (kind == 0) break;
            if (kind == 1) { i++; continue; }
            if (i + 1 >= end) break;
            int len = packet[i + 1];
            if (len < 2) break;
            if (kind == 3) s.WindowScale = true;
            if (kind == 4) s.Sack = true;
            if (kind == 8) s.Timestamps = true;
            i += len;
        }
    }

    /// <summary>tcp_options_write for a SYN or SYN-ACK: MSS, then SACK-permitted with timestamps (or NOP NOP + one of them), then NOP + window scale.</summary>
    private static byte[] SynOptions(bool mssOnly, TcpSock s)
    {
        // MSS = device MTU 1500 minus the IP and TCP headers: 1460 on IPv4, 1440 on IPv6.
        var o = new List<byte> { 2, 4, 0x05, s.Version == 6 ? (byte)0xa0 : (byte)0xb4 };
        if (!mssOnly)
        {
            if (s.Timestamps)
            {
                if (s.Sack) o.AddRange([4, 2]); else o.AddRange([1, 1]);
                o.AddRange([8, 10, 0, 0, 0, 1, 0, 0, 0, 0]);
            }
            else if (s.Sack) o.AddRange([1, 1, 4, 2]);
            if (s.WindowScale) o.AddRange([1, 3, 3, 7]);
        }
        return o.ToArray();
    }

    private static byte[] DataOptions(TcpSock s) => s.Timestamps ? [1, 1, 8, 10, 0, 0, 0, 2, 0, 0, 0, 1] : [];

    private byte[] Segment(TcpSock s, byte flags, byte[] options, byte[] data)
    {
        var spec = new WireSpec
        {
            Version = s.Version, Src = s.Local, Dst = s.Remote, Proto = IpProtocol.Tcp,
            SrcPort = s.LocalPort, DstPort = s.RemotePort, TcpFlags = flags, Seq = s.SndNxt,
            Ack = (flags & TcpFlagBits.Ack) != 0 ? s.RcvNxt : 0, TcpOptions = options, FlowLabel = s.FlowLabel,
            // tcp_select_initial_window: the largest multiple of the MSS below 65535.
            Window = (ushort)(s.Version == 6 ? 64800 : 64240),
            // ip_build_and_send_pkt gives a SYN-ACK (DF) the ID 0; later segments count from the socket's ID.
            Payload = data, Id = (flags & TcpFlagBits.Syn) != 0 && !s.IsClient ? (ushort)0 : _ipId++, IpFlags = (byte)(s.Version == 4 ? 2 : 0),
        };
        return Wire.Build(spec);
    }
}
