using System.Net;
using System.Net.Sockets;
using SharpTables.Rules.Commands;
using SharpTables.Rules.Model;
using static SharpTables.Daemon.Tests.NetnsLab;

namespace SharpTables.Daemon.Tests;

/// <summary>The steady state of the packet path — receive, engine, verdict, REJECT reply — allocates nothing.</summary>
[Collection("netns")]
public sealed class AllocationTests
{
    [NetnsFact]
    public void Serving_packets_allocates_nothing_per_packet()
    {
        const string rules = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n" +
            "-A INPUT -m state --state INVALID -j DROP\n" +
            "-A INPUT -p udp -m udp --dport 9 -m state --state NEW,ESTABLISHED -j ACCEPT\n" +
            "-A INPUT -p udp -m udp --dport 10 -j REJECT --reject-with icmp-port-unreachable\n" +
            "COMMIT\n";
        using var lab = new NetnsLab();
        lab.Exec(lab.Fw, "iptables", "-A", "INPUT", "-p", "udp", "-j", "NFQUEUE", "--queue-num", "6");
        var ruleset = Restore.Apply(new Ruleset(Family.IPv4), rules, new RestoreOptions());

        using var sender = Socket(lab.Client, AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        sender.Bind(new IPEndPoint(ClientAddress, 40000));
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var traffic = new Thread(() =>
        {
            var payload = new byte[32];
            var to9 = new IPEndPoint(FwAddress, 9);
            var to10 = new IPEndPoint(FwAddress, 10);
            for (int i = 0; !stop.IsCancellationRequested; i++)
            {
                sender.SendTo(payload, i % 16 == 0 ? to10 : to9);
                if (i % 64 == 0) Thread.Sleep(1);
            }
        }) { IsBackground = true };
        traffic.Start();

        var (allocated, packets, replies) = InNamespace(lab.Fw, () =>
        {
            using var queue = Netlink.NfQueue.Open(6);
            using var path = new PacketPath(ruleset, null, TextWriter.Null);
            var worker = new QueueWorker(queue, path, TextWriter.Null);
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (worker.Packets < 2000 && DateTime.UtcNow < deadline) worker.ServeOnce(100);
            long before = GC.GetAllocatedBytesForCurrentThread();
            long start = worker.Packets;
            while (worker.Packets - start < 5000 && DateTime.UtcNow < deadline) worker.ServeOnce(100);
            return (GC.GetAllocatedBytesForCurrentThread() - before, worker.Packets - start, path.RepliesSent);
        });
        stop.Cancel();
        traffic.Join();

        Assert.True(packets >= 5000, $"only {packets} packets arrived");
        Assert.True(replies > 0, "the REJECT rule sent no reply");
        Assert.Equal(0, allocated);
    }

    [NetnsFact]
    public void Handing_rewritten_packets_back_allocates_nothing_per_packet()
    {
        // REDIRECT rewrites the destination at PREROUTING (one payload verdict); SNAT in nat INPUT
        // rewrites the source, which waits for a second pass at INPUT (a ticket, then a payload verdict).
        const string rules = "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n" +
            "-A PREROUTING -p udp -m udp --dport 9 -j REDIRECT --to-ports 10\n" +
            "-A INPUT -p udp -j SNAT --to-source 198.51.100.3\n" +
            "COMMIT\n";
        using var lab = new NetnsLab();
        lab.Exec(lab.Fw, "iptables", "-t", "raw", "-A", "PREROUTING", "-p", "udp", "-j", "NFQUEUE", "--queue-num", "6");
        lab.Exec(lab.Fw, "iptables", "-t", "mangle", "-A", "INPUT", "-m", "mark", "--mark", "0x53550000/0xffff0000", "-j", "NFQUEUE", "--queue-num", "6");
        var ruleset = Restore.Apply(new Ruleset(Family.IPv4), rules, new RestoreOptions());
        using var receiver = Socket(lab.Fw, AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        receiver.Bind(new IPEndPoint(IPAddress.Any, 10));
        receiver.ReceiveBufferSize = 1 << 20;

        using var sender = Socket(lab.Client, AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        sender.Bind(new IPEndPoint(ClientAddress, 40000));
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var traffic = new Thread(() =>
        {
            var payload = new byte[32];
            var to9 = new IPEndPoint(FwAddress, 9);
            for (int i = 0; !stop.IsCancellationRequested; i++)
            {
                sender.SendTo(payload, to9);
                if (i % 64 == 0) Thread.Sleep(1);
            }
        }) { IsBackground = true };
        traffic.Start();

        var (allocated, packets, rewritten) = InNamespace(lab.Fw, () =>
        {
            using var queue = Netlink.NfQueue.Open(6);
            using var path = new PacketPath(ruleset, null, TextWriter.Null);
            var worker = new QueueWorker(queue, path, TextWriter.Null);
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (worker.Packets < 2000 && DateTime.UtcNow < deadline) worker.ServeOnce(100);
            long before = GC.GetAllocatedBytesForCurrentThread();
            long start = worker.Packets, rewrittenBefore = worker.Rewritten;
            while (worker.Packets - start < 5000 && DateTime.UtcNow < deadline) worker.ServeOnce(100);
            return (GC.GetAllocatedBytesForCurrentThread() - before, worker.Packets - start, worker.Rewritten - rewrittenBefore);
        });
        stop.Cancel();
        traffic.Join();

        Assert.True(packets >= 5000, $"only {packets} packets arrived");
        Assert.Equal(packets, rewritten);
        var from = new IPEndPoint(IPAddress.Any, 0) as EndPoint;
        Assert.True(receiver.Poll(1_000_000, SelectMode.SelectRead), "nothing reached port 10");
        receiver.ReceiveFrom(new byte[64], ref from);
        Assert.Equal(IPAddress.Parse("198.51.100.3"), ((IPEndPoint)from).Address);
        Assert.Equal(0, allocated);
    }
}
