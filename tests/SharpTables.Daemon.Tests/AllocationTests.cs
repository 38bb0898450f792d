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
}
