using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using SharpTables.Engine;
using static SharpTables.Daemon.Tests.NetnsLab;

namespace SharpTables.Daemon.Tests;

/// <summary>
/// LOG lines to syslog and the event file. The syslog form is RFC 3164's as a local sender
/// writes it to /dev/log (PRI = facility × 8 + severity, facility kern = 0; "Mmm dd hh:mm:ss"
/// with a space-padded day; no hostname) with the kernel's tag and printk timestamp
/// ("[%5lu.%06lu]"); the tests bind their own datagram socket in place of /dev/log.
/// </summary>
[Collection("netns")]
public sealed class LogOutputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sharptables-log-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void The_syslog_datagram_is_rfc3164_with_facility_kern_and_the_kernel_tag()
    {
        var line = LogOutput.SyslogLine(4, "DROP INPUT: IN=eth0 OUT= ", new DateTime(2025, 3, 4, 5, 6, 7), TimeSpan.FromSeconds(1234.5678901));
        Assert.Equal("<4>Mar  4 05:06:07 kernel: [ 1234.567890] DROP INPUT: IN=eth0 OUT= ", line);
        Assert.Equal("<7>Nov 21 23:59:59 kernel: [123456.000001] x",
            LogOutput.SyslogLine(7, "x", new DateTime(2025, 11, 21, 23, 59, 59), TimeSpan.FromTicks(123456_000_001_0)));
    }

    [Fact]
    public void Lines_reach_the_syslog_socket_and_the_event_file()
    {
        var socketPath = Path.Combine(_dir, "log.sock");
        var events = Path.Combine(_dir, "events.jsonl");
        using var syslog = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        syslog.Bind(new UnixDomainSocketEndPoint(socketPath));
        var notices = new StringWriter();
        using (var output = new LogOutput(socketPath, events, notices))
        {
            output.Post(new LogRecord(4, "DROP INPUT: IN=eth0 OUT= MAC=00 SRC=198.51.100.2 ", 1, "DROP INPUT: "), "DROP");
            output.Post(new LogRecord(6, "IN= OUT=lo \"quoted\" ", 2, ""), null);
            Assert.Matches(@"^<4>[A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d:\d\d kernel: \[ *\d+\.\d{6}\] DROP INPUT: IN=eth0 OUT= MAC=00 SRC=198\.51\.100\.2 $", Receive(syslog));
            Assert.Matches(@"^<6>[A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d:\d\d kernel: \[ *\d+\.\d{6}\] IN= OUT=lo ""quoted"" $", Receive(syslog));
        }
        Assert.Equal("", notices.ToString());
        var lines = File.ReadAllLines(events);
        Assert.Equal(2, lines.Length);
        using var first = JsonDocument.Parse(lines[0]);
        Assert.Equal(4, first.RootElement.GetProperty("level").GetInt32());
        Assert.Equal("DROP INPUT: ", first.RootElement.GetProperty("prefix").GetString());
        Assert.Equal("DROP INPUT: IN=eth0 OUT= MAC=00 SRC=198.51.100.2 ", first.RootElement.GetProperty("text").GetString());
        Assert.Equal("DROP", first.RootElement.GetProperty("verdict").GetString());
        var time = DateTime.Parse(first.RootElement.GetProperty("time").GetString()!, null, System.Globalization.DateTimeStyles.RoundtripKind);
        Assert.True(Math.Abs((DateTime.UtcNow - time).TotalMinutes) < 5, $"time {time:o}");
        using var second = JsonDocument.Parse(lines[1]);
        Assert.Equal(JsonValueKind.Null, second.RootElement.GetProperty("verdict").ValueKind);
        Assert.Equal("IN= OUT=lo \"quoted\" ", second.RootElement.GetProperty("text").GetString());
    }

    [Fact]
    public void Without_a_syslog_socket_one_notice_is_printed_and_the_event_file_is_kept()
    {
        var events = Path.Combine(_dir, "events.jsonl");
        var notices = new StringWriter();
        using (var output = new LogOutput(Path.Combine(_dir, "no-such-log"), events, notices))
            for (int i = 0; i < 3; i++) output.Post(new LogRecord(4, $"line {i} ", i, ""), "ACCEPT");
        Assert.Equal($"sharptablesd: {_dir}/no-such-log is not there (no syslog daemon running?): LOG lines go only to {events}\n", notices.ToString());
        Assert.Equal(3, File.ReadAllLines(events).Length);
    }

    [NetnsFact]
    public void The_daemon_logs_a_dropped_connection_attempt_with_its_verdict()
    {
        var socketPath = Path.Combine(_dir, "log.sock");
        using var syslog = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        syslog.Bind(new UnixDomainSocketEndPoint(socketPath));
        const string rules = "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n" +
            "-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT\n" +
            "-A INPUT -p tcp -m tcp --dport 23 -j LOG --log-prefix \"TELNET: \" --log-level 6\n" +
            "-A INPUT -p tcp -m tcp --dport 23 -j REJECT --reject-with tcp-reset\n" +
            "-A INPUT -j LOG --log-prefix \"DROP INPUT: \"\n" +
            "COMMIT\n";
        using var lab = new NetnsLab();
        using var d = lab.StartDaemon(rules, "--syslog", socketPath);
        var events = Path.Combine(d.StateDir, "events.jsonl");

        Assert.Equal(ConnectResult.Refused, Connect(lab.Client, FwAddress, 23));
        Assert.Equal(ConnectResult.TimedOut, Connect(lab.Client, FwAddress, 25, timeoutMs: 600));
        var telnet = Receive(syslog);
        var dropped = Receive(syslog);
        // The kernel's LOG line: prefix, interfaces, MAC, then the IPv4 and TCP fields of the SYN.
        Assert.Matches(@"^<6>[A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d:\d\d kernel: \[ *\d+\.\d{6}\] TELNET: IN=eth0 OUT= MAC=([0-9a-f]{2}:){13}[0-9a-f]{2} " +
                       @"SRC=198\.51\.100\.2 DST=198\.51\.100\.1 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=\d+ DF PROTO=TCP SPT=\d+ DPT=23 WINDOW=\d+ RES=0x00 SYN URGP=0 $", telnet);
        Assert.Matches(@"^<4>.* kernel: \[ *\d+\.\d{6}\] DROP INPUT: IN=eth0 OUT= .* DPT=25 .*SYN URGP=0 $", dropped);

        Assert.True(SpinWait.SpinUntil(() => File.Exists(events) && File.ReadAllLines(events).Length >= 2, 3000));
        var lines = File.ReadAllLines(events).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        // REJECT answers the SYN with a reset; the packet itself is dropped.
        Assert.Equal(("TELNET: ", 6, "DROP"), (lines[0].GetProperty("prefix").GetString(), lines[0].GetProperty("level").GetInt32(), lines[0].GetProperty("verdict").GetString()));
        Assert.Equal(("DROP INPUT: ", 4, "DROP"), (lines[1].GetProperty("prefix").GetString(), lines[1].GetProperty("level").GetInt32(), lines[1].GetProperty("verdict").GetString()));
        Assert.Equal(Regex.Replace(telnet, @"^.*?\] ", ""), lines[0].GetProperty("text").GetString());
    }

    private static string Receive(Socket s)
    {
        Assert.True(s.Poll(5_000_000, SelectMode.SelectRead), "no syslog datagram arrived");
        var buf = new byte[4096];
        return Encoding.UTF8.GetString(buf, 0, s.Receive(buf));
    }
}
