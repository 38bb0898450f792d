using System.Buffers.Binary;
using SharpTables.Netlink;

namespace SharpTables.Daemon.Tests;

/// <summary>
/// The netlink encoding against the kernel's own layouts (linux/netlink.h, linux/netfilter/nfnetlink.h,
/// nfnetlink_queue.h): messages are assembled here byte by byte from those definitions, not with
/// the writer under test.
/// </summary>
public sealed class NetlinkTests
{
    /// <summary>An NFQNL_MSG_PACKET as nfqnl_build_packet_message lays it out (little-endian host).</summary>
    private static byte[] PacketMessage()
    {
        var attrs = new List<byte[]>
        {
            // NFQA_PACKET_HDR: be32 packet_id, be16 hw_protocol, u8 hook (7 bytes, packed)
            Attr(1, [0x01, 0x02, 0x03, 0x04, 0x08, 0x00, 1]),
            Attr(3, [0xde, 0xad, 0xbe, 0xef]),               // NFQA_MARK
            Attr(5, [0, 0, 0, 3]),                           // NFQA_IFINDEX_INDEV
            // NFQA_CT arrives nested (NLA_F_NESTED) and is not ours to read: skipped whole.
            Attr(11 | 0x8000, [8, 0, 1, 0, 0, 0, 0, 0]),
            // NFQA_HWADDR: be16 hw_addrlen, u16 pad, u8 hw_addr[8]
            Attr(9, [0, 6, 0, 0, 0x02, 0x11, 0x22, 0x33, 0x44, 0x55, 0, 0]),
            Attr(14, [0, 0, 0, 1]),                          // NFQA_SKB_INFO: CSUMNOTREADY
            Attr(16, [0, 0, 0x03, 0xe8]),                    // NFQA_UID 1000
            Attr(10, [0x45, 0, 0, 21, 0xab]),                // NFQA_PAYLOAD (5 bytes, padded)
        };
        var body = new List<byte> { 2, 0, 0, 7 }; // nfgenmsg: AF_INET, NFNETLINK_V0, res_id 7 (big-endian)
        foreach (var a in attrs) body.AddRange(a);
        var msg = new byte[16 + body.Count];
        BinaryPrimitives.WriteUInt32LittleEndian(msg, (uint)msg.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(msg.AsSpan(4), 3 << 8 | 0); // NFNL_SUBSYS_QUEUE, NFQNL_MSG_PACKET
        body.CopyTo(msg, 16);
        return msg;
    }

    private static byte[] Attr(int type, byte[] payload)
    {
        var a = new byte[(4 + payload.Length + 3) & ~3];
        BinaryPrimitives.WriteUInt16LittleEndian(a, (ushort)(4 + payload.Length));
        BinaryPrimitives.WriteUInt16LittleEndian(a.AsSpan(2), (ushort)type);
        payload.CopyTo(a, 4);
        return a;
    }

    [Fact]
    public void A_queued_packet_message_parses_into_its_fields()
    {
        var reader = new NetlinkMessageReader(PacketMessage());
        Assert.True(reader.TryRead(out var m));
        Assert.Equal(3, m.Subsystem);
        Assert.Equal(0, m.Kind);
        Assert.True(NfQueuePacket.TryParse(m.Payload, out var p));
        Assert.Equal(0x01020304u, p.Id);
        Assert.Equal((ushort)7, p.Queue);
        Assert.Equal((byte)2, p.Family);
        Assert.Equal((ushort)0x0800, p.HwProtocol);
        Assert.Equal(NfHook.LocalIn, p.Hook);
        Assert.Equal(0xdeadbeefu, p.Mark);
        Assert.Equal(3, p.InIfIndex);
        Assert.Equal(0, p.OutIfIndex);
        Assert.Equal(new byte[] { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 }, p.HwAddress.ToArray());
        Assert.Equal(NfSkbInfo.ChecksumNotReady, p.SkbInfo);
        Assert.Equal(1000, p.Uid);
        Assert.Equal(-1, p.Gid);
        Assert.Equal(new byte[] { 0x45, 0, 0, 21, 0xab }, p.Payload.ToArray());
        Assert.Equal(5, p.OriginalLength);
        Assert.False(reader.TryRead(out _));
    }

    [Fact]
    public void Every_truncation_of_a_message_is_refused_or_parsed_without_throwing()
    {
        var full = PacketMessage();
        for (int n = 0; n < full.Length; n++)
        {
            var cut = full[..n];
            // The header still claims the full length: the reader must not run past the datagram.
            var reader = new NetlinkMessageReader(cut);
            Assert.False(reader.TryRead(out _));
            // The body alone, cut anywhere: attributes that do not fit are ignored.
            if (n >= 16) NfQueuePacket.TryParse(full.AsSpan(16, n - 16), out _);
        }
    }

    [Fact]
    public void Two_messages_in_one_datagram_are_read_in_turn()
    {
        var one = PacketMessage();
        var ack = new byte[36]; // NLMSG_ERROR with error 0 (an ack) echoing a 16-byte header
        BinaryPrimitives.WriteUInt32LittleEndian(ack, 36);
        BinaryPrimitives.WriteUInt16LittleEndian(ack.AsSpan(4), 2);
        BinaryPrimitives.WriteUInt32LittleEndian(ack.AsSpan(8), 42);
        var pad = (one.Length + 3) & ~3;
        var datagram = new byte[pad + ack.Length];
        one.CopyTo(datagram, 0);
        ack.CopyTo(datagram, pad);
        int offset = 0;
        Assert.True(NetlinkMessageReader.TryRead(datagram, ref offset, out var first));
        Assert.Equal(0x0300, first.Type);
        Assert.True(NetlinkMessageReader.TryRead(datagram, ref offset, out var second));
        Assert.Equal(Nl.NLMSG_ERROR, second.Type);
        Assert.Equal(0, second.Errno);
        Assert.Equal(42u, second.Sequence);
        Assert.False(NetlinkMessageReader.TryRead(datagram, ref offset, out _));
    }

    [Fact]
    public void A_verdict_message_has_the_kernels_layout()
    {
        Span<byte> buf = stackalloc byte[64];
        var w = new NetlinkWriter(buf);
        w.BeginMessage(3 << 8 | 3, Nl.NLM_F_REQUEST, 9);
        w.NfGenHeader(0, 0x0102);
        var h = w.Attribute(2, 8);
        BinaryPrimitives.WriteUInt32BigEndian(h, NfVerdict.Accept);
        BinaryPrimitives.WriteUInt32BigEndian(h[4..], 77);
        w.AttributeBE32(3, 0x42);
        w.EndMessage();
        byte[] expected =
        [
            40, 0, 0, 0, 3, 3, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0,   // nlmsghdr: len 40, NFQNL_MSG_VERDICT_BATCH, NLM_F_REQUEST, seq 9
            0, 0, 0x01, 0x02,                                  // nfgenmsg: AF_UNSPEC, v0, res_id 0x0102
            12, 0, 2, 0, 0, 0, 0, 1, 0, 0, 0, 77,              // NFQA_VERDICT_HDR { NF_ACCEPT, id 77 }
            8, 0, 3, 0, 0, 0, 0, 0x42,                         // NFQA_MARK
        ];
        Assert.Equal(expected, w.Written.ToArray());
    }

    [Fact]
    public void Attributes_are_padded_to_four_bytes_and_nests_cover_their_children()
    {
        Span<byte> buf = stackalloc byte[64];
        var w = new NetlinkWriter(buf);
        w.BeginMessage(1, 0, 0);
        w.Attribute(2, 5)[4] = 0xff;               // nfqnl_msg_config_params is 5 bytes: nla_len 9, 3 bytes of padding
        int nest = w.BeginNested(7);
        w.AttributeBE32(1, 1);
        w.EndNested(nest);
        w.EndMessage();
        var b = w.Written;
        Assert.Equal(16 + 12 + 12, b.Length);
        Assert.Equal(9, BinaryPrimitives.ReadUInt16LittleEndian(b[16..]));
        Assert.Equal(12, BinaryPrimitives.ReadUInt16LittleEndian(b[28..]));
        Assert.Equal(7 | Nl.NLA_F_NESTED, BinaryPrimitives.ReadUInt16LittleEndian(b[30..]));
        var attrs = new NetlinkAttributeReader(b[16..]);
        Assert.True(attrs.TryRead(out ushort t1, out bool n1, out var p1));
        Assert.Equal((2, false, 5), (t1, n1, p1.Length));
        Assert.True(attrs.TryRead(out ushort t2, out bool n2, out var p2));
        Assert.Equal((7, true, 8), (t2, n2, p2.Length));
        Assert.False(attrs.TryRead(out _, out _, out _));
    }

    [Fact]
    public void Queue_verdicts_encode_the_queue_number_and_bypass_flag()
    {
        // NF_QUEUE_NR(5) | NF_VERDICT_FLAG_QUEUE_BYPASS (linux/netfilter.h)
        Assert.Equal(0x00058003u, NfVerdict.ToQueue(5, bypass: true));
        Assert.Equal(0xffff0003u, NfVerdict.ToQueue(65535, bypass: false));
    }
}
