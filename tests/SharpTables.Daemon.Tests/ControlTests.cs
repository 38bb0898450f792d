using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using SharpTables.Cli;
using SharpTables.Cli.Control;
using static SharpTables.Daemon.Tests.NetnsLab;

namespace SharpTables.Daemon.Tests;

/// <summary>
/// The control socket: the sharptables CLI finds the running daemon on the state directory and
/// has it run the command on the live ruleset. Expectations: the same bytes, exit codes and
/// rules files as the offline CLI running the same commands; rule changes that act on real
/// kernel traffic at once without breaking established connections; counters as the kernel
/// counts packets (IP total length); nothing changed by a bad message or a bad rules file.
/// </summary>
[Collection("netns")]
public sealed class ControlTests
{
    private static readonly string WebHost = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "webhost.rules"));

    private const string UdpRules = "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n" +
        "-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT\n" +
        "-A INPUT -p udp -m udp --dport 53 -j ACCEPT\n" +
        "-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT\n" +
        "-A INPUT -p tcp -m tcp --dport 8080 -j ACCEPT\n" +
        "COMMIT\n";

    /// <summary>The same clock and terminal for both sides, so save headers and hints compare.</summary>
    private static readonly DateTime Now = new(2025, 3, 4, 5, 6, 7);

    private static (int Rc, string Out, string Err) CliWithInput(string stateDir, string? stdin, string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        var context = new CliContext { Now = Now, StderrIsTerminal = true, HintsMode = null };
        int rc = SharpTablesCli.Run(["--state-dir", stateDir, .. args], o, e, new StringReader(stdin ?? ""), context);
        return (rc, o.ToString(), e.ToString());
    }

    private static (int Rc, string Out, string Err) Cli(string stateDir, params string[] args) => CliWithInput(stateDir, null, args);

    [NetnsFact]
    public void Commands_through_the_daemon_print_exactly_what_the_offline_cli_prints()
    {
        using var lab = new NetnsLab();
        using var alt = Listen(lab.Fw, IPAddress.Any, 8080);
        using var d = lab.StartDaemon(WebHost);
        var offline = Directory.CreateTempSubdirectory("sharptables-offline-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(offline, "rules.v4"), WebHost);
            var restoreFile = Path.Combine(offline, "extra.rules");
            File.WriteAllText(restoreFile, "*filter\n-A INPUT -s 192.0.2.0/24 -j DROP\nCOMMIT\n");
            var badFile = Path.Combine(offline, "bad.rules");
            File.WriteAllText(badFile, "*filter\n-A INPUT -s 192.0.2.7 -j DROP\n-A INPUT -p tcp --dport 99999 -j ACCEPT\nCOMMIT\n");
            Assert.Equal(ConnectResult.TimedOut, Connect(lab.Client, FwAddress, 8080, timeoutMs: 1000));
            // That attempt was counted by the daemon; zero the live counters so both sides start at 0.
            Assert.Equal((0, "", ""), Cli(d.StateDir, "-Z"));
            Assert.Equal((0, "", ""), Cli(offline, "-Z"));

            (string? Stdin, string[] Args)[] commands =
            [
                (null, ["-S"]),
                (null, ["-L", "-v", "-n", "--line-numbers"]),
                (null, ["-A", "INPUT", "-p", "tcp", "--dport", "99999", "-j", "ACCEPT"]),
                (null, ["-A", "INPUT", "-p", "tcp", "\u2013dport", "22", "-j", "ACCEPT"]),
                (null, ["-I", "INPUT", "1", "-i", "eth0", "-p", "tcp", "--dport", "8080", "-j", "ACCEPT"]),
                (null, ["-I", "INPUT", "2", "-s", "10.0.0.0/8", "-j", "DROP"]),
                (null, ["-N", "NEWCHAIN"]),
                (null, ["-A", "NEWCHAIN", "-j", "RETURN"]),
                (null, ["-X", "NOSUCH"]),
                (null, ["-P", "FORWARD", "DROP"]),
                (null, ["-D", "INPUT", "2"]),
                (null, ["-C", "INPUT", "-s", "1.2.3.4", "-j", "DROP"]),
                (null, ["-L", "NOSUCH"]),
                (null, ["-Z", "INPUT"]),
                (null, ["-L", "INPUT", "-v", "-x", "-n"]),
                (null, ["-t", "nat", "-A", "POSTROUTING", "-o", "eth0", "-j", "MASQUERADE"]),
                (null, ["-t", "nat", "-L", "-n", "-v"]),
                (null, ["save"]),
                (null, ["save", "-c"]),
                (null, ["save", "-t", "mangle"]),
                (null, ["restore", "--test", restoreFile]),
                (null, ["restore", "-n", restoreFile]),
                (null, ["restore", "-n", badFile]),
                (null, ["restore", Path.Combine(offline, "missing.rules")]),
                ("*filter\n-A INPUT -s 198.18.0.0/15 -j DROP\nCOMMIT\n", ["restore", "-n"]),
                (null, ["restore", "-x"]),
                (null, ["-6", "-A", "INPUT", "-p", "tcp", "--dport", "443", "-j", "ACCEPT"]),
                (null, ["-6", "-S"]),
                (null, ["save", "-6", "-c"]),
                (null, ["-V"]),
                (null, ["-S", "-v"]),
            ];
            foreach (var (stdin, args) in commands)
            {
                var viaDaemon = CliWithInput(d.StateDir, stdin, args);
                var direct = CliWithInput(offline, stdin, args);
                Assert.True(direct == viaDaemon, $"sharptables {string.Join(' ', args)}\noffline: {direct}\ndaemon:  {viaDaemon}");
            }

            // The files the daemon persisted are the offline CLI's, byte for byte.
            Assert.Equal(File.ReadAllText(Path.Combine(offline, "rules.v4")), File.ReadAllText(Path.Combine(d.StateDir, "rules.v4")));
            Assert.Equal(File.ReadAllText(Path.Combine(offline, "rules.v6")), File.ReadAllText(Path.Combine(d.StateDir, "rules.v6")));
            // And the rule inserted above acts on the kernel's traffic at once.
            Assert.Equal(ConnectResult.Connected, Connect(lab.Client, FwAddress, 8080));

            // The real binary, a relative file name resolved in the caller's directory, stdin from a pipe.
            foreach (var (stdin, args) in new (string?, string[])[] { (null, ["restore", "--test", "extra.rules"]), ("*filter\nCOMMIT\n", ["restore", "--test"]), (null, ["-S", "INPUT"]) })
            {
                var viaDaemon = RunBinary(d.StateDir, offline, stdin, args);
                var direct = RunBinary(offline, offline, stdin, args);
                Assert.True(direct == viaDaemon, $"sharptables {string.Join(' ', args)}\noffline: {direct}\ndaemon:  {viaDaemon}");
            }
        }
        finally
        {
            Directory.Delete(offline, recursive: true);
        }
    }

    [NetnsFact]
    public void Listings_show_live_counters_and_Z_zeroes_them_in_the_engine()
    {
        using var lab = new NetnsLab();
        using var dns = UdpReceiver(lab.Fw, 53);
        using var d = lab.StartDaemon(UdpRules);
        using var client = Socket(lab.Client, AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);

        // 5 datagrams of 10 bytes: 5 packets of 20 (IP) + 8 (UDP) + 10 bytes each.
        SendUdp(client, dns, 5, 10);
        Assert.Equal("5 190", RuleCounters(d.StateDir, "--dport 53"));
        Assert.Equal((0, "", ""), Cli(d.StateDir, "-Z"));
        Assert.Equal("0 0", RuleCounters(d.StateDir, "--dport 53"));
        SendUdp(client, dns, 2, 100);
        Assert.Equal("2 256", RuleCounters(d.StateDir, "--dport 53"));
        var listing = Cli(d.StateDir, "-L", "INPUT", "-v", "-x", "-n").Out;
        Assert.Matches(@"\n +2 +256 ACCEPT +17 +-- +\* +\* +0\.0\.0\.0/0 +0\.0\.0\.0/0 +udp dpt:53\n", listing);
    }

    [NetnsFact]
    public void A_rule_added_during_an_open_connection_applies_to_new_ones_and_keeps_the_open_one()
    {
        using var lab = new NetnsLab();
        using var server = Listen(lab.Fw, IPAddress.Any, 8080);
        using var d = lab.StartDaemon(UdpRules);
        using var open = Socket(lab.Client, AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        open.ReceiveTimeout = 3000;
        open.Connect(new IPEndPoint(FwAddress, 8080));
        Assert.Equal("hello", Receive(open, 5));
        Assert.Equal("one\n", Echo(open, "one\n"));

        // Only NEW connections to 8080 are dropped from now on; the open one is ESTABLISHED.
        var (rc, _, err) = Cli(d.StateDir, "-I", "INPUT", "1", "-p", "tcp", "--dport", "8080", "-m", "state", "--state", "NEW", "-j", "DROP");
        Assert.True(rc == 0, err);
        Assert.Equal(ConnectResult.TimedOut, Connect(lab.Client, FwAddress, 8080, timeoutMs: 1200));
        Assert.Equal("two\n", Echo(open, "two\n"));
        Assert.Equal(1, server.Accepted);
    }

    [NetnsFact]
    public void A_killed_daemon_fails_closed_and_its_restart_brings_back_the_saved_rules_and_counters()
    {
        using var lab = new NetnsLab();
        using var web = Listen(lab.Fw, IPAddress.Any, 80);
        using var dns = UdpReceiver(lab.Fw, 53);
        using var client = Socket(lab.Client, AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        using var d = lab.StartDaemon(UdpRules);

        SendUdp(client, dns, 3, 10);
        // A change persists the ruleset with the live counters of that moment.
        Assert.Equal(0, Cli(d.StateDir, "-A", "INPUT", "-p", "icmp", "-j", "ACCEPT").Rc);
        var saved = File.ReadAllText(Path.Combine(d.StateDir, "rules.v4"));
        Assert.Contains("[3:114] -A INPUT -p udp -m udp --dport 53 -j ACCEPT\n", saved);
        SendUdp(client, dns, 2, 10);

        // Kill -9 while datagrams keep coming.
        using var flood = new CancellationTokenSource();
        var sender = Task.Run(() =>
        {
            while (!flood.IsCancellationRequested)
            {
                client.SendTo("flood"u8.ToArray(), new IPEndPoint(FwAddress, 53));
                Thread.Sleep(1);
            }
        });
        Thread.Sleep(300);
        d.Kill();
        Thread.Sleep(200);
        flood.Cancel();
        sender.Wait();
        Drain(dns);
        Assert.Equal(ConnectResult.TimedOut, Connect(lab.Client, FwAddress, 80, timeoutMs: 1200));
        client.SendTo("late"u8.ToArray(), new IPEndPoint(FwAddress, 53));
        Assert.False(dns.Poll(500_000, SelectMode.SelectRead), "a datagram passed while no daemon was there");
        // A killed daemon's socket file is left behind, refuses connections, and the CLI works offline.
        Assert.True(File.Exists(Path.Combine(d.StateDir, ControlProtocol.SocketName)));
        Assert.Equal(saved, Restore(Cli(d.StateDir, "save", "-c").Out));

        using var again = lab.RestartDaemon(d.StateDir);
        Assert.Equal(saved, Restore(Cli(d.StateDir, "save", "-c").Out));
        Assert.Equal("3 114", RuleCounters(d.StateDir, "--dport 53"));
        Assert.Equal(ConnectResult.Connected, Connect(lab.Client, FwAddress, 80));
    }

    [NetnsFact]
    public void A_garbled_control_message_changes_nothing()
    {
        using var lab = new NetnsLab();
        using var web = Listen(lab.Fw, IPAddress.Any, 80);
        using var d = lab.StartDaemon(UdpRules);
        var file = Path.Combine(d.StateDir, "rules.v4");
        var before = File.ReadAllBytes(file);
        var listing = Cli(d.StateDir, "-S").Out;
        var valid = Encoding.UTF8.GetBytes("{\"version\":1,\"argv\":[\"-F\"]}");

        byte[][] garbled =
        [
            [0xff, 0xff, 0xff, 0xff, .. valid],                             // length out of range
            [0, 0, 0, 0],                                                   // empty
            Frame("{\"version\":1,\"argv\":[\"-F\""),                        // JSON cut short
            Frame("not json at all"),
            Frame("{\"version\":99,\"argv\":[\"-F\"]}"),                     // unknown version
            Frame("{\"version\":1,\"argv\":null}"),
            Frame("{\"version\":1,\"argv\":[\"-F\",null]}"),
            Frame("{\"version\":1,\"argv\":\"-F\"}"),                         // argv of the wrong type
            Frame("[1,2,3]"),
        ];
        foreach (var message in garbled)
        {
            var response = SendRaw(d.StateDir, message);
            Assert.NotEqual(0, response.Exit);
            Assert.StartsWith("sharptablesd: bad control message: ", Assert.Single(response.Output).Text);
        }
        // A message cut short (the client goes away) is dropped without an answer.
        using (var s = ControlSocket(d.StateDir))
            s.Send(Frame("{\"version\":1,\"argv\":[\"-F\"]}").AsSpan(0, 10));

        Assert.Equal(before, File.ReadAllBytes(file));
        Assert.Equal(listing, Cli(d.StateDir, "-S").Out);
        Assert.Equal(ConnectResult.Connected, Connect(lab.Client, FwAddress, 80));
        // The well-formed message does flush, so the ones above were refused for their form alone.
        Assert.Equal(0, SendRaw(d.StateDir, Frame("{\"version\":1,\"argv\":[\"-F\"]}")).Exit);
        Assert.Equal(ConnectResult.TimedOut, Connect(lab.Client, FwAddress, 80, timeoutMs: 1200));
    }

    [NetnsFact]
    public void A_rules_file_with_an_error_changes_nothing()
    {
        using var lab = new NetnsLab();
        using var web = Listen(lab.Fw, IPAddress.Any, 80);
        using var ssh = Listen(lab.Fw, IPAddress.Any, 22);
        using var d = lab.StartDaemon(UdpRules);
        var file = Path.Combine(d.StateDir, "rules.v4");
        var before = File.ReadAllBytes(file);
        var bad = Path.Combine(d.StateDir, "bad.rules");
        // A valid first half (which would let 22 in and shut 80) and an error on line 5.
        File.WriteAllText(bad, "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp --dport 22 -j ACCEPT\n-A INPUT -p tcp --dport 80 -j DROP\n" +
                               "-A INPUT -p tcp --dport 99999 -j ACCEPT\nCOMMIT\n");

        var (rc, output, err) = Cli(d.StateDir, "restore", bad);
        Assert.Equal(2, rc);
        Assert.Equal("", output);
        Assert.Equal("sharptables-restore v1.8.9 (nf_tables): invalid port/service `99999' specified\nError occurred at line: 5\n" +
                     "Try `sharptables-restore -h' or 'sharptables-restore --help' for more information.\n", err);
        Assert.Equal(before, File.ReadAllBytes(file));
        Assert.Equal(ConnectResult.Connected, Connect(lab.Client, FwAddress, 80));
        Assert.Equal(ConnectResult.TimedOut, Connect(lab.Client, FwAddress, 22, timeoutMs: 1200));
    }

    [NetnsFact]
    public void Only_root_may_use_the_control_socket()
    {
        using var lab = new NetnsLab();
        using var d = lab.StartDaemon(UdpRules);
        var socket = Path.Combine(d.StateDir, ControlProtocol.SocketName);
        Assert.Equal("srw-------\n", Tool("stat", "-c", "%A", socket));
        // Open the file mode (and the directory) so the uid check itself is what refuses nobody.
        Tool("chmod", "0666", socket);
        Tool("chmod", "0755", d.StateDir);
        var before = File.ReadAllBytes(Path.Combine(d.StateDir, "rules.v4"));
        const string client = "import socket,struct,sys\n" +
            "s=socket.socket(socket.AF_UNIX);s.connect(sys.argv[1])\n" +
            "b=b'{\"version\":1,\"argv\":[\"-F\"]}';s.sendall(struct.pack('>I',len(b))+b)\n" +
            "d=b''\nwhile True:\n  c=s.recv(65536)\n  if not c: break\n  d+=c\n" +
            "sys.stdout.write(d[4:].decode())\n";
        var psi = new ProcessStartInfo("setpriv") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", client, socket })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var answer = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(answer.Contains("permission denied: only root may control the daemon (you are uid 65534)"), answer);
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(d.StateDir, "rules.v4")));
    }

    [NetnsFact]
    public void A_second_daemon_on_the_same_state_directory_refuses_to_start()
    {
        using var lab = new NetnsLab();
        using var d = lab.StartDaemon(UdpRules);
        var e = Assert.Throws<InvalidOperationException>(() => lab.RestartDaemon(d.StateDir, "--queue", "5"));
        Assert.Contains("another sharptablesd is running on", e.Message);
        Assert.Equal(0, Cli(d.StateDir, "-S").Rc);
    }

    [NetnsFact]
    public void Recent_lists_are_shown_and_edited_in_the_live_engine()
    {
        const string rules = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n" +
            "-A INPUT -p tcp -m tcp --dport 22 -m recent --rcheck --name BLOCK --rsource -j DROP\n" +
            "-A INPUT -p tcp -m tcp --dport 80 -m recent --set --name SEEN --rsource -j ACCEPT\n" +
            "COMMIT\n";
        using var lab = new NetnsLab();
        using var web = Listen(lab.Fw, IPAddress.Any, 80);
        using var ssh = Listen(lab.Fw, IPAddress.Any, 22);
        using var d = lab.StartDaemon(rules);

        // The files of /proc/net/xt_recent: one list per --name.
        Assert.Equal((0, "BLOCK\nSEEN\n", ""), Cli(d.StateDir, "recent"));
        Assert.Equal((0, "", ""), Cli(d.StateDir, "recent", "BLOCK"));
        Assert.Equal(ConnectResult.Connected, Connect(lab.Client, FwAddress, 22));

        // echo +ADDR > /proc/net/xt_recent/BLOCK: the next SYN from that address is dropped.
        Assert.Equal((0, "", ""), Cli(d.StateDir, "recent", "BLOCK", "+198.51.100.2"));
        Assert.Matches(@"^src=198\.51\.100\.2 ttl: 0 last_seen: \d+ oldest_pkt: 1 \d+\n$", Cli(d.StateDir, "recent", "BLOCK").Out);
        Assert.Equal(ConnectResult.TimedOut, Connect(lab.Client, FwAddress, 22, timeoutMs: 1200));
        Assert.Equal((0, "", ""), Cli(d.StateDir, "recent", "BLOCK", "-198.51.100.2"));
        Assert.Equal(ConnectResult.Connected, Connect(lab.Client, FwAddress, 22));
        Assert.Equal((0, "", ""), Cli(d.StateDir, "recent", "BLOCK", "+198.51.100.2"));
        Assert.Equal((0, "", ""), Cli(d.StateDir, "recent", "BLOCK", "/"));
        Assert.Equal(ConnectResult.Connected, Connect(lab.Client, FwAddress, 22));

        // What the engine records shows too: --set stamps every packet of the connection and keeps
        // its TTL (64 from a local socket).
        Assert.Equal(ConnectResult.Connected, Connect(lab.Client, FwAddress, 80));
        Assert.Matches(@"^src=198\.51\.100\.2 ttl: 64 last_seen: \d+ oldest_pkt: \d+ \d+(, \d+)+\n$", Cli(d.StateDir, "recent", "SEEN").Out);

        // The errors the kernel's proc file gives (ENOENT, EINVAL).
        Assert.Equal((1, "", "sharptables recent: NOSUCH: No such file or directory\n"), Cli(d.StateDir, "recent", "NOSUCH"));
        Assert.Equal((1, "", "sharptables recent: BLOCK: Invalid argument\n"), Cli(d.StateDir, "recent", "BLOCK", "+300.1.1.1"));
        Assert.Equal((1, "", "sharptables recent: BLOCK: Invalid argument\n"), Cli(d.StateDir, "recent", "BLOCK", "198.51.100.2"));
        Assert.Equal(2, Cli(d.StateDir, "recent", "BLOCK", "+1.2.3.4", "extra").Rc);
    }

    // --- helpers ---

    /// <summary>"packets bytes" of the INPUT rule whose text contains <paramref name="match"/>, from save -c through the CLI.</summary>
    private static string RuleCounters(string stateDir, string match)
    {
        var save = Cli(stateDir, "save", "-c").Out;
        var line = save.Split('\n').Single(l => l.Contains(match, StringComparison.Ordinal));
        var m = System.Text.RegularExpressions.Regex.Match(line, @"^\[(\d+):(\d+)\]");
        return $"{m.Groups[1].Value} {m.Groups[2].Value}";
    }

    /// <summary>save -c output as the state file holds it (without the comment lines).</summary>
    private static string Restore(string save) =>
        string.Concat(save.Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#')).Select(l => l + "\n"));

    private static (int Rc, string Out, string Err) RunBinary(string stateDir, string cwd, string? stdin, string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, WorkingDirectory = cwd,
        };
        foreach (var a in (string[])[Path.Combine(AppContext.BaseDirectory, "sharptables.dll"), "--state-dir", stateDir, .. args])
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        p.StandardInput.Write(stdin ?? "");
        p.StandardInput.Close();
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, o.Result, e.Result);
    }

    private static byte[] Frame(string json)
    {
        var body = Encoding.UTF8.GetBytes(json);
        return [(byte)(body.Length >> 24), (byte)(body.Length >> 16), (byte)(body.Length >> 8), (byte)body.Length, .. body];
    }

    private static Socket ControlSocket(string stateDir)
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Connect(new UnixDomainSocketEndPoint(ControlProtocol.SocketPath(stateDir)));
        s.ReceiveTimeout = 10_000;
        return s;
    }

    private static ControlResponse SendRaw(string stateDir, byte[] message)
    {
        using var s = ControlSocket(stateDir);
        s.Send(message);
        using var stream = new NetworkStream(s);
        return ControlProtocol.Read<ControlResponse>(stream);
    }

    private static string Tool(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', args)} failed");
        return output;
    }

    private static Socket UdpReceiver(string ns, int port)
    {
        var s = Socket(ns, AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(IPAddress.Any, port));
        return s;
    }

    /// <summary>Sends <paramref name="count"/> datagrams of <paramref name="size"/> bytes to port 53 and waits until each arrived.</summary>
    private static void SendUdp(Socket client, Socket receiver, int count, int size)
    {
        var buf = new byte[2048];
        for (int i = 0; i < count; i++)
        {
            client.SendTo(new byte[size], new IPEndPoint(FwAddress, 53));
            Assert.True(receiver.Poll(2_000_000, SelectMode.SelectRead), "a datagram to port 53 did not arrive");
            Assert.Equal(size, receiver.Receive(buf));
        }
    }

    private static void Drain(Socket s)
    {
        var buf = new byte[2048];
        while (s.Poll(100_000, SelectMode.SelectRead)) s.Receive(buf);
    }

    private static string Receive(Socket s, int count)
    {
        var buf = new byte[count];
        int n = 0;
        while (n < count)
        {
            int r = s.Receive(buf, n, count - n, SocketFlags.None);
            if (r == 0) break;
            n += r;
        }
        return Encoding.ASCII.GetString(buf, 0, n);
    }

    private static string Echo(Socket s, string text)
    {
        s.Send(Encoding.ASCII.GetBytes(text));
        return Receive(s, text.Length);
    }
}
