using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using SharpTables.Netlink;
using static SharpTables.Daemon.Tests.NetnsLab;

namespace SharpTables.Daemon.Tests;

/// <summary>
/// <see cref="NfQueue"/> against the kernel's nfnetlink_queue in a namespace: what a queued packet
/// carries (compared with what `ip link` says about the interfaces and what was sent), and what
/// each verdict does to delivery.
/// </summary>
[Collection("netns")]
public sealed class NfQueueTests
{
    private const ushort QueueNumber = 5;

    private static NfQueue OpenIn(string ns) => InNamespace(ns, () => NfQueue.Open(QueueNumber));

    private static int IfIndex(string ns, string dev) =>
        int.Parse(Ip("-n", ns, "-o", "link", "show", "dev", dev).Split(':')[0]);

    private static byte[] Mac(string ns, string dev)
    {
        var words = Ip("-n", ns, "-o", "link", "show", "dev", dev).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return Convert.FromHexString(words[Array.IndexOf(words, "link/ether") + 1].Replace(":", ""));
    }

    private static Socket Receiver(string ns, int port)
    {
        var s = Socket(ns, AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(IPAddress.Any, port));
        return s;
    }

    private static string? Receive(Socket s, int timeoutMs)
    {
        if (!s.Poll(timeoutMs * 1000, SelectMode.SelectRead)) return null;
        var buf = new byte[256];
        return System.Text.Encoding.ASCII.GetString(buf, 0, s.Receive(buf));
    }

    private static void Send(string ns, string text, IPAddress to, int port, int fromPort = 0)
    {
        using var s = Socket(ns, AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        if (fromPort != 0) s.Bind(new IPEndPoint(IPAddress.Any, fromPort));
        s.SendTo(System.Text.Encoding.ASCII.GetBytes(text), new IPEndPoint(to, port));
    }

    [NetnsFact]
    public void An_input_packet_carries_its_hook_interfaces_source_mac_and_bytes()
    {
        using var lab = new NetnsLab();
        lab.Exec(lab.Fw, "iptables", "-A", "INPUT", "-p", "udp", "--dport", "9", "-j", "NFQUEUE", "--queue-num", $"{QueueNumber}");
        using var queue = OpenIn(lab.Fw);
        using var rx = Receiver(lab.Fw, 9);
        Send(lab.Client, "abc", FwAddress, 9, fromPort: 40000);

        Assert.True(queue.TryReceive(out var p, 2000));
        Assert.Equal(NfHook.LocalIn, p.Hook);
        Assert.Equal(QueueNumber, p.Queue);
        Assert.Equal((byte)2, p.Family); // AF_INET
        Assert.Equal((ushort)0x0800, p.HwProtocol);
        Assert.Equal(IfIndex(lab.Fw, "eth0"), p.InIfIndex);
        Assert.Equal(0, p.OutIfIndex);
        Assert.Equal(Mac(lab.Client, "eth0"), p.HwAddress.ToArray());
        var ip = p.Payload;
        Assert.Equal(28 + 3, ip.Length);
        Assert.Equal(0x45, ip[0]);
        Assert.Equal(17, ip[9]);
        Assert.Equal(new byte[] { 198, 51, 100, 2, 198, 51, 100, 1 }, ip[12..20].ToArray());
        Assert.Equal(40000, BinaryPrimitives.ReadUInt16BigEndian(ip[20..]));
        Assert.Equal(9, BinaryPrimitives.ReadUInt16BigEndian(ip[22..]));
        Assert.Equal("abc"u8.ToArray(), ip[28..].ToArray());

        Assert.Null(Receive(rx, 200)); // held by the kernel until the verdict
        queue.Verdict(p.Id, NfVerdict.Accept);
        Assert.Equal("abc", Receive(rx, 2000));
    }

    [NetnsFact]
    public void Drop_discards_and_a_batch_verdict_covers_every_earlier_packet()
    {
        using var lab = new NetnsLab();
        lab.Exec(lab.Fw, "iptables", "-A", "INPUT", "-p", "udp", "--dport", "9", "-j", "NFQUEUE", "--queue-num", $"{QueueNumber}");
        using var queue = OpenIn(lab.Fw);
        using var rx = Receiver(lab.Fw, 9);

        Send(lab.Client, "dropped", FwAddress, 9);
        Assert.True(queue.TryReceive(out var p, 2000));
        queue.Verdict(p.Id, NfVerdict.Drop);
        Assert.Null(Receive(rx, 300));

        var ids = new List<uint>();
        for (int i = 0; i < 3; i++)
        {
            Send(lab.Client, $"b{i}", FwAddress, 9);
            Assert.True(queue.TryReceive(out p, 2000));
            ids.Add(p.Id);
        }
        Assert.Equal([ids[0], ids[0] + 1, ids[0] + 2], ids);
        queue.VerdictBatch(ids[2], NfVerdict.Accept);
        Assert.Equal("b0 b1 b2", $"{Receive(rx, 2000)} {Receive(rx, 2000)} {Receive(rx, 2000)}");
    }

    [NetnsFact]
    public void A_verdict_can_set_the_mark_the_rest_of_the_path_sees()
    {
        using var lab = new NetnsLab();
        lab.Exec(lab.Fw, "iptables", "-t", "mangle", "-A", "INPUT", "-p", "udp", "--dport", "9", "-j", "NFQUEUE", "--queue-num", $"{QueueNumber}");
        lab.Exec(lab.Fw, "iptables", "-A", "INPUT", "-m", "mark", "--mark", "0x42", "-j", "DROP");
        using var queue = OpenIn(lab.Fw);
        using var rx = Receiver(lab.Fw, 9);

        Send(lab.Client, "marked", FwAddress, 9);
        Assert.True(queue.TryReceive(out var p, 2000));
        queue.Verdict(p.Id, NfVerdict.Accept, 0x42);
        Send(lab.Client, "plain", FwAddress, 9);
        Assert.True(queue.TryReceive(out p, 2000));
        queue.Verdict(p.Id, NfVerdict.Accept);
        Assert.Equal("plain", Receive(rx, 2000));
        Assert.Null(Receive(rx, 200));
    }

    [NetnsFact]
    public void A_payload_verdict_replaces_the_packet_and_may_change_its_length()
    {
        using var lab = new NetnsLab();
        lab.Exec(lab.Fw, "iptables", "-A", "INPUT", "-p", "udp", "--dport", "9", "-j", "NFQUEUE", "--queue-num", $"{QueueNumber}");
        using var queue = OpenIn(lab.Fw);
        using var rx9 = Receiver(lab.Fw, 9);
        using var rx10 = Receiver(lab.Fw, 10);
        Send(lab.Client, "abc", FwAddress, 9);

        Assert.True(queue.TryReceive(out var p, 2000));
        // Another port and a longer datagram: UDP and IP lengths and both checksums are ours to get right.
        var rewritten = new byte[p.Payload.Length + 3];
        p.Payload.CopyTo(rewritten);
        "abcdef"u8.CopyTo(rewritten.AsSpan(28));
        BinaryPrimitives.WriteUInt16BigEndian(rewritten.AsSpan(2), (ushort)rewritten.Length);
        BinaryPrimitives.WriteUInt16BigEndian(rewritten.AsSpan(22), 10);
        BinaryPrimitives.WriteUInt16BigEndian(rewritten.AsSpan(24), (ushort)(rewritten.Length - 20));
        Packets.Checksum.SetIpv4Header(rewritten);
        Packets.Checksum.SetTransport(rewritten);
        queue.VerdictWithPayload(p.Id, NfVerdict.Accept, 0, rewritten);

        Assert.Equal("abcdef", Receive(rx10, 2000));
        Assert.Null(Receive(rx9, 200));
        Assert.Equal(0, queue.VerdictErrors);
    }

    [NetnsFact]
    public void A_payload_with_a_wrong_checksum_is_not_delivered()
    {
        // nfqnl_mangle leaves the skb CHECKSUM_NONE: the kernel verifies what it was given.
        using var lab = new NetnsLab();
        lab.Exec(lab.Fw, "iptables", "-A", "INPUT", "-p", "udp", "--dport", "9", "-j", "NFQUEUE", "--queue-num", $"{QueueNumber}");
        using var queue = OpenIn(lab.Fw);
        using var rx9 = Receiver(lab.Fw, 9);
        Send(lab.Client, "abc", FwAddress, 9);

        Assert.True(queue.TryReceive(out var p, 2000));
        var changed = p.Payload.ToArray();
        "xyz"u8.CopyTo(changed.AsSpan(28));
        queue.VerdictWithPayload(p.Id, NfVerdict.Accept, 0, changed);
        Assert.Null(Receive(rx9, 500));
    }

    [NetnsFact]
    public void A_locally_sent_packet_carries_the_output_interface_and_the_senders_uid()
    {
        using var lab = new NetnsLab();
        lab.Exec(lab.Fw, "iptables", "-A", "OUTPUT", "-p", "udp", "--dport", "9", "-j", "NFQUEUE", "--queue-num", $"{QueueNumber}");
        using var queue = OpenIn(lab.Fw);
        Send(lab.Fw, "out", ClientAddress, 9);

        Assert.True(queue.TryReceive(out var p, 2000));
        Assert.Equal(NfHook.LocalOut, p.Hook);
        Assert.Equal(0, p.InIfIndex);
        Assert.Equal(IfIndex(lab.Fw, "eth0"), p.OutIfIndex);
        Assert.Equal(0, p.Uid); // root
        Assert.Equal(0, p.Gid);
        queue.Verdict(p.Id, NfVerdict.Accept);
    }

    [NetnsFact]
    public void A_queue_another_socket_holds_cannot_be_bound()
    {
        using var lab = new NetnsLab();
        using var first = OpenIn(lab.Fw);
        // nfqnl_recv_config: a queue owned by another port id answers EPERM.
        var e = Assert.Throws<NetlinkException>(() => OpenIn(lab.Fw));
        Assert.Equal(1, e.Errno);
    }
}
