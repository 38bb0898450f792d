using System.Buffers.Binary;
using System.Text;
using SharpTables.Packets;
using SharpTables.Rules.Extensions.Log;
using SharpTables.Rules.Model;

namespace SharpTables.Engine.Output;

/// <summary>
/// Writes the line the kernel's syslog logger (net/netfilter/nf_log_syslog.c: nf_log_ip_packet,
/// nf_log_ip6_packet) prints for a packet, without the timestamp and the syslog level: the prefix,
/// <c>IN= OUT=</c>, the link-layer header, then the IPv4 or IPv6 dump with the embedded packet of
/// ICMP errors in brackets. Every field, its order, its number base and letter case, and the
/// trailing space follow the kernel; fields the kernel cannot read print as it prints them
/// (<c>TRUNCATED</c>, <c>INCOMPLETE [n bytes]</c>). One formatter keeps one buffer: it is not
/// thread safe, like the packet path it serves.
/// </summary>
public sealed class LogFormatter
{
    /// <summary>
    /// The most text one line can hold: nf_log_buf is 1019 bytes, of which the kernel keeps the
    /// last for the NUL and the first two for the syslog level (KERN_SOH and a digit).
    /// </summary>
    public const int MaxLineLength = 1019 - 1 - 2;

    private const ushort IpCe = 0x8000, IpDf = 0x4000, IpMf = 0x2000, IpOffsetMask = 0x1fff;

    private readonly StringBuilder _sb = new(256);

    /// <summary>The line for <paramref name="p"/> as the LOG target with these options prints it.</summary>
    public string Format(Packet p, string prefix, LogFlags flags)
    {
        _sb.Clear();
        Write(p, prefix, flags);
        if (_sb.Length > MaxLineLength) _sb.Length = MaxLineLength;
        return _sb.ToString();
    }

    private void Write(Packet p, string prefix, LogFlags flags)
    {
        // nf_log_dump_packet_common
        _sb.Append(prefix).Append("IN=").Append(p.In?.Name).Append(" OUT=").Append(p.Out?.Name).Append(' ');
        if (p.In != null) DumpMacHeader(p, flags);
        ReadOnlySpan<byte> b = p.Bytes;
        int len = KernelView.SkbLength(p);
        if (p.Info.IsIPv6) DumpIPv6(p, b, len, 0, recurse: true, flags);
        else DumpIPv4(p, b, len, 0, flags);
    }

    /// <summary>
    /// dump_mac_header: called only when the packet has an input device. The device is skb->dev:
    /// the input device, except in POSTROUTING where ip_output has set the output device.
    /// </summary>
    private void DumpMacHeader(Packet p, LogFlags flags)
    {
        var dev = p.Hook == Hook.PostRouting && p.Out != null ? p.Out : p.In!;
        if ((flags & LogFlags.MacDecode) != 0 && !dev.IsLoopback)
        {
            // ARPHRD_ETHER: decoded fields, or nothing at all without a complete header.
            if (p.MacHeaderLength < 14) return;
            var h = p.MacHeader.AsSpan(0, 14);
            _sb.Append("MACSRC=");
            AppendMac(h.Slice(6, 6));
            _sb.Append(" MACDST=");
            AppendMac(h[..6]);
            _sb.Append($" MACPROTO={BinaryPrimitives.ReadUInt16BigEndian(h[12..]):x4} ");
            return;
        }
        _sb.Append("MAC=");
        for (int i = 0; i < p.MacHeaderLength; i++)
        {
            if (i > 0) _sb.Append(':');
            _sb.Append($"{p.MacHeader[i]:x2}");
        }
        _sb.Append(' ');
    }

    private void AppendMac(ReadOnlySpan<byte> mac)
    {
        for (int i = 0; i < mac.Length; i++)
        {
            if (i > 0) _sb.Append(':');
            _sb.Append($"{mac[i]:x2}");
        }
    }

    /// <summary>dump_ipv4_packet; <paramref name="off"/> is 0 for the packet itself and points into an ICMP error for the quoted one.</summary>
    private void DumpIPv4(Packet p, ReadOnlySpan<byte> b, int len, int off, LogFlags flags)
    {
        if (off + 20 > len)
        {
            _sb.Append("TRUNCATED");
            return;
        }
        var ih = b[off..];
        int ihl = (ih[0] & 0x0f) * 4;
        byte tos = ih[1];
        ushort frag = BinaryPrimitives.ReadUInt16BigEndian(ih[6..]);
        byte proto = ih[9];
        _sb.Append("SRC=");
        AppendIPv4(ih[12..]);
        _sb.Append(" DST=");
        AppendIPv4(ih[16..]);
        _sb.Append($" LEN={BinaryPrimitives.ReadUInt16BigEndian(ih[2..])} TOS=0x{tos & 0x1e:X2} PREC=0x{tos & 0xe0:X2} TTL={ih[8]} ID={BinaryPrimitives.ReadUInt16BigEndian(ih[4..])} ");
        if ((frag & IpCe) != 0) _sb.Append("CE ");
        if ((frag & IpDf) != 0) _sb.Append("DF ");
        if ((frag & IpMf) != 0) _sb.Append("MF ");
        int fragOffset = frag & IpOffsetMask;
        if (fragOffset != 0) _sb.Append($"FRAG:{fragOffset} ");

        if ((flags & LogFlags.IpOptions) != 0 && ihl > 20)
        {
            if (off + ihl > len)
            {
                _sb.Append("TRUNCATED");
                return;
            }
            _sb.Append("OPT (");
            AppendHexUpper(b.Slice(off + 20, ihl - 20));
            _sb.Append(") ");
        }

        int th = off + ihl;
        bool fragment = fragOffset != 0;
        switch (proto)
        {
            case IpProtocol.Tcp:
                if (DumpTcp(b, len, th, fragment, flags)) return;
                break;
            case IpProtocol.Udp:
            case IpProtocol.UdpLite:
                if (DumpUdp(b, len, proto, th, fragment)) return;
                break;
            case IpProtocol.Icmp:
                DumpIcmp(p, b, len, off, th, fragment, flags);
                break;
            case IpProtocol.Ah:
                if (fragment) break;
                _sb.Append("PROTO=AH ");
                if (th + 12 > len)
                {
                    AppendIncomplete(len, th);
                    break;
                }
                _sb.Append($"SPI=0x{BinaryPrimitives.ReadUInt32BigEndian(b[(th + 4)..]):x} ");
                break;
            case IpProtocol.Esp:
                _sb.Append("PROTO=ESP ");
                if (fragment) break;
                if (th + 8 > len)
                {
                    AppendIncomplete(len, th);
                    break;
                }
                _sb.Append($"SPI=0x{BinaryPrimitives.ReadUInt32BigEndian(b[th..]):x} ");
                break;
            default:
                _sb.Append($"PROTO={proto} ");
                break;
        }

        if (off == 0) AppendUidAndMark(p, flags);
    }

    /// <summary>The ICMP part of dump_ipv4_packet, with the minimum lengths its required_len table asks for.</summary>
    private void DumpIcmp(Packet p, ReadOnlySpan<byte> b, int len, int off, int th, bool fragment, LogFlags flags)
    {
        _sb.Append("PROTO=ICMP ");
        if (fragment) return;
        if (th + 8 > len)
        {
            AppendIncomplete(len, th);
            return;
        }
        byte type = b[th], code = b[th + 1];
        _sb.Append($"TYPE={type} CODE={code} ");
        int required = type switch
        {
            0 or 8 => 4,
            3 or 4 or 5 or 11 or 12 => 8 + 20,
            13 or 14 => 20,
            17 or 18 => 12,
            _ => 0,
        };
        if (required != 0 && len - th < required)
        {
            AppendIncomplete(len, th);
            return;
        }
        switch (type)
        {
            case 0:
            case 8:
                _sb.Append($"ID={BinaryPrimitives.ReadUInt16BigEndian(b[(th + 4)..])} SEQ={BinaryPrimitives.ReadUInt16BigEndian(b[(th + 6)..])} ");
                break;
            case 12:
                _sb.Append($"PARAMETER={b[th + 4]} ");
                break;
            case 5:
            case 3:
            case 4:
            case 11:
                if (type == 5)
                {
                    _sb.Append("GATEWAY=");
                    AppendIPv4(b[(th + 4)..]);
                    _sb.Append(' ');
                }
                if (off == 0)
                {
                    // Only the packet itself recurses, so an error quoted in an error is not opened.
                    _sb.Append('[');
                    DumpIPv4(p, b, len, th + 8, flags);
                    _sb.Append("] ");
                }
                if (type == 3 && code == 4)
                    _sb.Append($"MTU={BinaryPrimitives.ReadUInt16BigEndian(b[(th + 6)..])} ");
                break;
        }
    }

    /// <summary>nf_log_dump_tcp_header; true when the dump ends here (header missing or options cut).</summary>
    private bool DumpTcp(ReadOnlySpan<byte> b, int len, int th, bool fragment, LogFlags flags)
    {
        _sb.Append("PROTO=TCP ");
        if (fragment) return false;
        if (th + 20 > len)
        {
            AppendIncomplete(len, th);
            return true;
        }
        var t = b[th..];
        _sb.Append($"SPT={BinaryPrimitives.ReadUInt16BigEndian(t)} DPT={BinaryPrimitives.ReadUInt16BigEndian(t[2..])} ");
        if ((flags & LogFlags.TcpSequence) != 0)
            _sb.Append($"SEQ={BinaryPrimitives.ReadUInt32BigEndian(t[4..])} ACK={BinaryPrimitives.ReadUInt32BigEndian(t[8..])} ");
        _sb.Append($"WINDOW={BinaryPrimitives.ReadUInt16BigEndian(t[14..])} ");
        // TCP_RESERVED_BITS is 0x0E000000 since the AE bit (the lowest reserved bit) got a name.
        _sb.Append($"RES=0x{(t[12] & 0x0e) << 2:x2} ");
        byte f = t[13];
        if ((t[12] & 0x01) != 0) _sb.Append("AE ");
        if ((f & TcpFlagBits.Cwr) != 0) _sb.Append("CWR ");
        if ((f & TcpFlagBits.Ece) != 0) _sb.Append("ECE ");
        if ((f & TcpFlagBits.Urg) != 0) _sb.Append("URG ");
        if ((f & TcpFlagBits.Ack) != 0) _sb.Append("ACK ");
        if ((f & TcpFlagBits.Psh) != 0) _sb.Append("PSH ");
        if ((f & TcpFlagBits.Rst) != 0) _sb.Append("RST ");
        if ((f & TcpFlagBits.Syn) != 0) _sb.Append("SYN ");
        if ((f & TcpFlagBits.Fin) != 0) _sb.Append("FIN ");
        _sb.Append($"URGP={BinaryPrimitives.ReadUInt16BigEndian(t[18..])} ");

        int doff = (t[12] >> 4) * 4;
        if ((flags & LogFlags.TcpOptions) != 0 && doff > 20)
        {
            if (th + doff > len)
            {
                _sb.Append("OPT (TRUNCATED)");
                return true;
            }
            _sb.Append("OPT (");
            AppendHexUpper(b.Slice(th + 20, doff - 20));
            _sb.Append(") ");
        }
        return false;
    }

    /// <summary>nf_log_dump_udp_header; true when the header is missing.</summary>
    private bool DumpUdp(ReadOnlySpan<byte> b, int len, byte proto, int th, bool fragment)
    {
        _sb.Append(proto == IpProtocol.Udp ? "PROTO=UDP " : "PROTO=UDPLITE ");
        if (fragment) return false;
        if (th + 8 > len)
        {
            AppendIncomplete(len, th);
            return true;
        }
        var u = b[th..];
        _sb.Append($"SPT={BinaryPrimitives.ReadUInt16BigEndian(u)} DPT={BinaryPrimitives.ReadUInt16BigEndian(u[2..])} LEN={BinaryPrimitives.ReadUInt16BigEndian(u[4..])} ");
        return false;
    }

    /// <summary>dump_ipv6_packet; <paramref name="recurse"/> is false for the packet quoted in an ICMPv6 error.</summary>
    private void DumpIPv6(Packet p, ReadOnlySpan<byte> b, int len, int off, bool recurse, LogFlags flags)
    {
        if (off + 40 > len)
        {
            _sb.Append("TRUNCATED");
            return;
        }
        var ih = b[off..];
        uint first = BinaryPrimitives.ReadUInt32BigEndian(ih);
        _sb.Append("SRC=");
        AppendIPv6(ih.Slice(8, 16));
        _sb.Append(" DST=");
        AppendIPv6(ih.Slice(24, 16));
        _sb.Append($" LEN={BinaryPrimitives.ReadUInt16BigEndian(ih[4..]) + 40} TC={(first >> 20) & 0xff} HOPLIMIT={ih[7]} FLOWLBL={first & 0xfffff} ");

        bool ipopt = (flags & LogFlags.IpOptions) != 0;
        bool fragment = false;
        int ptr = off + 40;
        byte current = ih[6];
        // nf_ip6_ext_hdr: hop-by-hop, routing, fragment, ESP, AH and destination options.
        while (current is IpProtocol.HopByHop or IpProtocol.Routing or IpProtocol.Fragment or IpProtocol.Esp
               or IpProtocol.Ah or IpProtocol.DestinationOptions)
        {
            if (ptr + 2 > len)
            {
                _sb.Append("TRUNCATED");
                return;
            }
            byte next = b[ptr];
            int hdrlen;
            if (ipopt) _sb.Append("OPT ( ");
            switch (current)
            {
                case IpProtocol.Fragment:
                {
                    _sb.Append("FRAG:");
                    if (ptr + 8 > len)
                    {
                        _sb.Append("TRUNCATED ");
                        return;
                    }
                    ushort fo = BinaryPrimitives.ReadUInt16BigEndian(b[(ptr + 2)..]);
                    _sb.Append($"{fo & 0xfff8} ");
                    if ((fo & 1) != 0) _sb.Append("INCOMPLETE ");
                    _sb.Append($"ID:{BinaryPrimitives.ReadUInt32BigEndian(b[(ptr + 4)..]):x8} ");
                    if ((fo & 0xfff8) != 0) fragment = true;
                    hdrlen = 8;
                    break;
                }
                case IpProtocol.DestinationOptions:
                case IpProtocol.Routing:
                case IpProtocol.HopByHop:
                    if (fragment)
                    {
                        if (ipopt) _sb.Append(')');
                        return;
                    }
                    hdrlen = (b[ptr + 1] + 1) * 8;
                    break;
                case IpProtocol.Ah:
                    if (ipopt)
                    {
                        _sb.Append("AH ");
                        if (fragment)
                        {
                            _sb.Append(')');
                            return;
                        }
                        if (ptr + 12 > len)
                        {
                            _sb.Append($"INCOMPLETE [{(uint)(len - ptr)} bytes] )");
                            return;
                        }
                        _sb.Append($"SPI=0x{BinaryPrimitives.ReadUInt32BigEndian(b[(ptr + 4)..]):x} ");
                    }
                    hdrlen = (b[ptr + 1] + 2) * 4;
                    break;
                default: // ESP: the rest is encrypted, the line ends here
                    if (ipopt)
                    {
                        _sb.Append("ESP ");
                        if (fragment)
                        {
                            _sb.Append(')');
                            return;
                        }
                        if (ptr + 8 > len)
                        {
                            _sb.Append($"INCOMPLETE [{(uint)(len - ptr)} bytes] )");
                            return;
                        }
                        _sb.Append($"SPI=0x{BinaryPrimitives.ReadUInt32BigEndian(b[ptr..]):x} )");
                    }
                    return;
            }
            if (ipopt) _sb.Append(") ");
            current = next;
            ptr += hdrlen;
        }

        switch (current)
        {
            case IpProtocol.Tcp:
                if (DumpTcp(b, len, ptr, fragment, flags)) return;
                break;
            case IpProtocol.Udp:
            case IpProtocol.UdpLite:
                if (DumpUdp(b, len, current, ptr, fragment)) return;
                break;
            case IpProtocol.Icmpv6:
            {
                _sb.Append("PROTO=ICMPv6 ");
                if (fragment) break;
                if (ptr + 8 > len)
                {
                    AppendIncomplete(len, ptr);
                    return;
                }
                byte type = b[ptr];
                _sb.Append($"TYPE={type} CODE={b[ptr + 1]} ");
                switch (type)
                {
                    case 128:
                    case 129:
                        _sb.Append($"ID={BinaryPrimitives.ReadUInt16BigEndian(b[(ptr + 4)..])} SEQ={BinaryPrimitives.ReadUInt16BigEndian(b[(ptr + 6)..])} ");
                        break;
                    case 4:
                    case 1:
                    case 2:
                    case 3:
                        if (type == 4) _sb.Append($"POINTER={BinaryPrimitives.ReadUInt32BigEndian(b[(ptr + 4)..]):x8} ");
                        if (recurse)
                        {
                            _sb.Append('[');
                            DumpIPv6(p, b, len, ptr + 8, recurse: false, flags);
                            _sb.Append("] ");
                        }
                        if (type == 2) _sb.Append($"MTU={BinaryPrimitives.ReadUInt32BigEndian(b[(ptr + 4)..])} ");
                        break;
                }
                break;
            }
            default:
                _sb.Append($"PROTO={current} ");
                break;
        }

        if (recurse) AppendUidAndMark(p, flags);
    }

    /// <summary>
    /// --log-uid prints the owner of the sending socket (fsuid/fsgid of its file); MARK appears
    /// whenever the packet has one. Both only for the packet itself, never for a quoted one.
    /// </summary>
    private void AppendUidAndMark(Packet p, LogFlags flags)
    {
        // An unmapped group prints as the overflow gid (from_kgid_munged).
        if ((flags & LogFlags.Uid) != 0 && p.SocketUid >= 0 && !p.RequestSocket)
            _sb.Append($"UID={p.SocketUid} GID={(p.SocketGid >= 0 ? p.SocketGid : 65534)} ");
        if (p.Mark != 0) _sb.Append($"MARK=0x{p.Mark:x} ");
    }

    /// <summary>"INCOMPLETE [n bytes] " with the kernel's unsigned skb->len - offset.</summary>
    private void AppendIncomplete(int len, int offset) => _sb.Append($"INCOMPLETE [{(uint)(len - offset)} bytes] ");

    private void AppendIPv4(ReadOnlySpan<byte> a) => _sb.Append($"{a[0]}.{a[1]}.{a[2]}.{a[3]}");

    /// <summary>%pI6: eight groups of four lower-case hex digits, never shortened.</summary>
    private void AppendIPv6(ReadOnlySpan<byte> a)
    {
        for (int i = 0; i < 16; i += 2)
        {
            if (i > 0) _sb.Append(':');
            _sb.Append($"{BinaryPrimitives.ReadUInt16BigEndian(a[i..]):x4}");
        }
    }

    private void AppendHexUpper(ReadOnlySpan<byte> bytes)
    {
        foreach (byte x in bytes) _sb.Append($"{x:X2}");
    }
}
