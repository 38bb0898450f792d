using System.Runtime.InteropServices;
using SharpTables.Netlink;
using SharpTables.Rules;
using SharpTables.Rules.Model;
using SharpTables.Rules.Storage;

namespace SharpTables.Daemon;

/// <summary>
/// <c>sharptablesd [--state-dir DIR] [--queue N] [--queues K] [--fail-open] [--syslog PATH|none] [--events FILE|none] [--iptables PATH] [--ip6tables PATH]</c>:
/// loads rules.v4 (and rules.v6 when present) from the state directory, diverts the hooks they use
/// to NFQUEUE N (..N+K-1), judges every packet with the engine in the foreground and takes
/// commands on DIR/control.sock until SIGINT or SIGTERM, then removes the diversion and writes
/// the live counters to the state files. LOG lines go to syslog (/dev/log) and DIR/events.jsonl
/// (<see cref="LogOutput"/>). Prints "sharptablesd: ready ..." on stderr once packets flow and the
/// control socket listens, and then tells systemd it is ready (<see cref="SystemdNotify"/>).
/// </summary>
public static class Program
{
    private const string Usage =
        "usage: sharptablesd [--state-dir DIR] [--queue N] [--queues K] [--fail-open] [--syslog PATH|none] [--events FILE|none]\n" +
        "                    [--iptables PATH] [--ip6tables PATH]";

    public static int Main(string[] args)
    {
        var log = Console.Error;
        string? stateDir = null;
        string? syslog = LogOutput.DefaultSyslogSocket, events = "";
        var options = new DaemonOptions();
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"option {args[i]} needs a value");
                switch (args[i])
                {
                    case "--state-dir": stateDir = Value(); break;
                    case "--queue": options = options with { Queue = ushort.Parse(Value()) }; break;
                    case "--queues":
                        int k = int.Parse(Value());
                        if (k < 1 || k > 64) throw new ArgumentException("--queues must be 1..64");
                        options = options with { Queues = k };
                        break;
                    case "--fail-open": options = options with { FailOpen = true }; break;
                    case "--syslog": syslog = Value(); break;
                    case "--events": events = Value(); break;
                    case "--iptables": options = options with { Iptables = Value() }; break;
                    case "--ip6tables": options = options with { Ip6tables = Value() }; break;
                    case "-h" or "--help": Console.Out.WriteLine(Usage); return 0;
                    default: throw new ArgumentException($"unknown option {args[i]}");
                }
            }
            if (options.Queue + options.Queues - 1 > ushort.MaxValue) throw new ArgumentException("queue numbers beyond 65535");
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            log.WriteLine($"sharptablesd: {e.Message}");
            log.WriteLine(Usage);
            return 2;
        }

        Ruleset ipv4, ipv6;
        var dir = StateStore.ResolveDirectory(stateDir);
        options = options with
        {
            SyslogSocket = syslog == "none" ? null : syslog,
            EventFile = events == "none" ? null : events is "" or null ? System.IO.Path.Combine(dir, LogOutput.EventFileName) : events,
        };
        try
        {
            var store4 = new StateStore(dir, Family.IPv4);
            var store6 = new StateStore(dir, Family.IPv6);
            using (store4.Lock())
            {
                ipv4 = store4.Load();
                ipv6 = store6.Load();
            }
        }
        catch (XtablesException e)
        {
            log.WriteLine($"sharptablesd: {e.Message.Trim()}");
            return 1;
        }

        if (ControlServer.AnotherIsRunning(dir))
        {
            log.WriteLine($"sharptablesd: another sharptablesd is running on {dir} (it answers on {Cli.Control.ControlProtocol.SocketPath(dir)})");
            return 1;
        }

        using var stop = new ManualResetEventSlim();
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Set(); });
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Set(); });
        using var daemon = new SharpTablesDaemon(options, ipv4, ipv6, log);
        var host = new DaemonRulesetHost(daemon, dir);
        using var control = new ControlServer(daemon, host, log);
        try
        {
            daemon.Start();
            control.Start();
        }
        catch (Exception e) when (e is NetlinkException or InvalidOperationException or System.ComponentModel.Win32Exception or IOException or System.Net.Sockets.SocketException or UnauthorizedAccessException)
        {
            log.WriteLine($"sharptablesd: {e.Message}");
            if (e is NetlinkException { Errno: 1 })
                log.WriteLine("sharptablesd: another program holds that queue, or binding it needs root (CAP_NET_ADMIN)");
            return 1;
        }
        string queues = options.Queues == 1 ? $"queue {options.Queue}" : $"queues {options.Queue}-{options.Queue + options.Queues - 1}";
        log.WriteLine($"sharptablesd: ready: {queues}, {dir}, IPv4 diverted at {daemon.DivertedIPv4}, IPv6 at {daemon.DivertedIPv6}, " +
                      (options.FailOpen ? "fail-open" : "fail-closed"));
        // Under systemd (Type=notify), `systemctl start` returns only now that the rules are in force.
        SystemdNotify.Send(Environment.GetEnvironmentVariable(SystemdNotify.Variable), "READY=1");
        stop.Wait();
        control.Stop();
        daemon.Stop();
        try
        {
            host.PersistCounters();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or XtablesException)
        {
            log.WriteLine($"sharptablesd: counters not saved: {e.Message}");
        }
        log.WriteLine($"sharptablesd: stopped: {daemon.Summary()}");
        return 0;
    }
}
