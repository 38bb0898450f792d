using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using SharpTables.Cli;
using static SharpTables.Daemon.Tests.NetnsLab;

namespace SharpTables.Daemon.Tests;

/// <summary>
/// sharptablesd with two queues (--queue-balance spreads the flows, one worker thread each)
/// judging many flows at once: every packet the kernel handed over is counted exactly once, every
/// accepted datagram is delivered by the fw host's IP layer, and every REJECTed SYN gets its reset.
/// </summary>
[Collection("netns")]
public sealed class MulticoreTests
{
    private const string Rules = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n" +
        "-A INPUT -p udp -m udp --dport 53 -j ACCEPT\n" +
        "-A INPUT -p tcp -m tcp --dport 81 -j REJECT --reject-with tcp-reset\n" +
        "COMMIT\n";

    [NetnsFact]
    public void Two_queues_judge_many_flows_at_once_and_count_every_packet()
    {
        const int sources = 8, datagrams = 2000, connects = 25, size = 10;
        using var lab = new NetnsLab(extraClientAddresses: sources - 1);
        // A socket for the datagrams, so the host does not answer them with port unreachables.
        using var sink = Socket(lab.Fw, AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        sink.Bind(new IPEndPoint(IPAddress.Any, 53));
        using var d = lab.StartDaemon(Rules, "--queues", "2");
        long deliveredBefore = Delivered(lab);

        // Every source sends its datagrams (a few at a time) and now and then opens a connection
        // to the rejected port, all sources at once.
        var refused = new ConcurrentBag<ConnectResult>();
        var senders = Enumerable.Range(0, sources).Select(i => new Thread(() =>
        {
            var from = IPAddress.Parse($"198.51.100.{2 + i}");
            using var u = Socket(lab.Client, AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            u.Bind(new IPEndPoint(from, 0));
            var to = new IPEndPoint(FwAddress, 53);
            var payload = new byte[size];
            for (int n = 0; n < datagrams; n++)
            {
                u.SendTo(payload, to);
                if (n % 10 == 9) Thread.Sleep(1);
                if (n % (datagrams / connects) == 0) refused.Add(Connect(lab.Client, FwAddress, 81, timeoutMs: 5000, from: from));
            }
        })).ToList();
        senders.ForEach(t => t.Start());
        senders.ForEach(t => t.Join());

        Assert.Equal(sources * connects, refused.Count);
        Assert.All(refused, r => Assert.Equal(ConnectResult.Refused, r));

        // The kernel's view: packets handed to the queues and not dropped there were judged; both
        // queues had some. Wait until the daemon's counters have caught up with them.
        var queues = QueueStats(lab);
        Assert.True(queues.Count == 2 && queues.Values.All(q => q.Queued > 0), $"queued per queue: {string.Join(", ", queues)}");
        long judged = queues.Values.Sum(q => q.Queued - q.Dropped);
        (long Packets, long Bytes) udp = default, tcp = default, policy = default;
        var deadline = DateTime.UtcNow.AddSeconds(20);
        do
        {
            var save = Cli(d.StateDir, "save", "-c");
            udp = Counters(save, "--dport 53");
            tcp = Counters(save, "--dport 81");
            policy = Counters(save, ":INPUT ACCEPT");
        }
        while (udp.Packets + tcp.Packets + policy.Packets < judged && DateTime.UtcNow < deadline && Sleep(100));
        Assert.Equal(judged, udp.Packets + tcp.Packets + policy.Packets);

        // Each accepted datagram was delivered once (once its batch verdict is in); each SYN to 81
        // was counted once (it got its reset at once).
        long reached;
        while ((reached = Delivered(lab) - deliveredBefore) < udp.Packets && DateTime.UtcNow < deadline) Thread.Sleep(100);
        Assert.Equal(reached, udp.Packets);
        Assert.Equal(udp.Packets * (20 + 8 + size), udp.Bytes);
        Assert.True(udp.Packets > sources * datagrams / 2, $"only {udp.Packets} of {sources * datagrams} datagrams were judged");
        Assert.Equal(sources * connects, tcp.Packets);
        Assert.Equal(0, d.Terminate());
        Assert.Matches($@"packets={judged} accepted={udp.Packets + policy.Packets} dropped={tcp.Packets} rewritten=0 replies={sources * connects} reply_failures=0 errors=0 ", d.Output);
    }

    private static bool Sleep(int ms)
    {
        Thread.Sleep(ms);
        return true;
    }

    private static (int Rc, string Out, string Err) CliRun(string stateDir, params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int rc = SharpTablesCli.Run(["--state-dir", stateDir, .. args], o, e, new StringReader(""), new CliContext());
        return (rc, o.ToString(), e.ToString());
    }

    private static string Cli(string stateDir, params string[] args)
    {
        var (rc, output, error) = CliRun(stateDir, args);
        Assert.True(rc == 0, error);
        return output;
    }

    /// <summary>"[packets:bytes]" of the save -c line containing <paramref name="match"/> (a rule, or a chain's policy line).</summary>
    private static (long Packets, long Bytes) Counters(string save, string match)
    {
        var line = save.Split('\n').Single(l => l.Contains(match, StringComparison.Ordinal));
        var m = Regex.Match(line, @"\[(\d+):(\d+)\]");
        return (long.Parse(m.Groups[1].Value), long.Parse(m.Groups[2].Value));
    }

    /// <summary>
    /// Packets the fw host's IP layer handed to a transport protocol after INPUT (/proc/net/snmp
    /// Ip InDelivers): every packet the daemon accepted there, whatever the socket made of it.
    /// </summary>
    private static long Delivered(NetnsLab lab)
    {
        var lines = lab.Exec(lab.Fw, "cat", "/proc/net/snmp").Split('\n').Where(l => l.StartsWith("Ip:", StringComparison.Ordinal)).ToList();
        var names = lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var values = lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return long.Parse(values[Array.IndexOf(names, "InDelivers")]);
    }

    /// <summary>Per queue (/proc/net/netfilter/nfnetlink_queue): packets queued (id_sequence) and dropped before the daemon saw them (queue_dropped + user_dropped).</summary>
    private static Dictionary<int, (long Queued, long Dropped)> QueueStats(NetnsLab lab)
    {
        var result = new Dictionary<int, (long, long)>();
        foreach (var line in lab.Exec(lab.Fw, "cat", "/proc/net/netfilter/nfnetlink_queue").Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(long.Parse).ToArray();
            result[(int)f[0]] = (f[7], f[5] + f[6]);
        }
        return result;
    }
}
