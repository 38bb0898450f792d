using System.Net;
using System.Net.Sockets;
using SharpTables.Netlink;
using SharpTables.Rules.Commands;
using SharpTables.Rules.Model;
using static SharpTables.Daemon.Tests.NetnsLab;

namespace SharpTables.Daemon.Tests;

/// <summary>The packet path in-process (queue, engine, worker) inside the fw namespace.</summary>
[Collection("netns")]
public sealed class PacketPathTests
{
    private static Ruleset Rules(string body) => Restore.Apply(new Ruleset(Family.IPv4),
        "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n" + body + "COMMIT\n", new RestoreOptions());

    [NetnsFact]
    public void A_swapped_ruleset_judges_the_next_packets()
    {
        using var lab = new NetnsLab();
        lab.Exec(lab.Fw, "iptables", "-A", "INPUT", "-p", "udp", "-j", "NFQUEUE", "--queue-num", "7");
        using var rx9 = Receiver(lab.Fw, 9);
        using var rx10 = Receiver(lab.Fw, 10);
        using var sender = Socket(lab.Client, AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        var before = Rules("-A INPUT -p udp -m udp --dport 9 -j ACCEPT\n-A INPUT -p udp -j DROP\n");
        var after = Rules("-A INPUT -p udp -m udp --dport 10 -j ACCEPT\n-A INPUT -p udp -j DROP\n");

        var got = InNamespace(lab.Fw, () =>
        {
            using var queue = NfQueue.Open(7);
            using var path = new PacketPath(before, null, TextWriter.Null);
            var worker = new QueueWorker(queue, path, TextWriter.Null);
            var seen = new List<string?>();
            Send(sender, "a9", 9);
            Send(sender, "a10", 10);
            Serve(worker, 2);
            seen.Add(Read(rx9));
            seen.Add(Read(rx10));
            path.Swap(after, null);
            Send(sender, "b9", 9);
            Send(sender, "b10", 10);
            Serve(worker, 2);
            seen.Add(Read(rx9));
            seen.Add(Read(rx10));
            return seen;
        });
        Assert.Equal(["a9", null, null, "b10"], got);
    }

    private static void Serve(QueueWorker worker, int packets)
    {
        long target = worker.Packets + packets;
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (worker.Packets < target && DateTime.UtcNow < deadline) worker.ServeOnce(100);
    }

    private static void Send(Socket s, string text, int port) =>
        s.SendTo(System.Text.Encoding.ASCII.GetBytes(text), new IPEndPoint(FwAddress, port));

    private static Socket Receiver(string ns, int port)
    {
        var s = Socket(ns, AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(IPAddress.Any, port));
        return s;
    }

    private static string? Read(Socket s)
    {
        if (!s.Poll(300_000, SelectMode.SelectRead)) return null;
        var buf = new byte[64];
        return System.Text.Encoding.ASCII.GetString(buf, 0, s.Receive(buf));
    }
}
