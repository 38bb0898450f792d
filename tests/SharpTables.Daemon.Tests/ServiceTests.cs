using System.Net;
using System.Net.Sockets;
using SharpTables.Cli;
using static SharpTables.Daemon.Tests.NetnsLab;

namespace SharpTables.Daemon.Tests;

/// <summary>
/// <c>sharptables service</c> as the iptables service scripts behave: start puts the saved rules in
/// force, stop removes the firewall entirely (traffic the rules dropped passes), status lists the
/// tables or says the firewall is not running (exit 3, LSB "not running"), save writes the
/// running rules (with live counters) where start reads them and keeps the previous file.
/// Without systemd here, the service starts the daemon itself.
/// </summary>
[Collection("netns")]
public sealed class ServiceTests
{
    private const string Rules = "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n" +
        "-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT\n" +
        "-A INPUT -p udp -m udp --dport 53 -j ACCEPT\n" +
        "COMMIT\n";

    [NetnsFact]
    public void Start_status_save_restart_and_stop()
    {
        using var lab = new NetnsLab();
        using var dns = Receiver(lab.Fw, 53);
        using var other = Receiver(lab.Fw, 54);
        using var client = Socket(lab.Client, AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        var dir = Directory.CreateTempSubdirectory("sharptables-service-").FullName;
        var rulesFile = Path.Combine(dir, "rules.v4");
        File.WriteAllText(rulesFile, Rules);
        try
        {
            // The daemon filters the namespace it starts in: start it from the fw namespace.
            Assert.Equal((0, $"Starting sharptablesd (rules from {dir}): [  OK  ]\n"), Service(lab, dir, "start"));
            Assert.Contains("SHARPTABLESD", lab.Exec(lab.Fw, "iptables", "-S", "INPUT"));
            var (again, already) = Service(lab, dir, "start");
            Assert.Equal(0, again);
            Assert.StartsWith("sharptablesd is already running (pid ", already);
            for (int i = 0; i < 5; i++) Assert.True(Udp(client, dns, 53));
            Assert.False(Udp(client, other, 54));

            var (rc, status, _) = Cli(dir, "service", "status");
            Assert.Equal(0, rc);
            Assert.Equal("Table: filter\n" + Cli(dir, "-t", "filter", "-L", "-n", "--line-numbers").Out + "\n", status);
            Assert.StartsWith("Table: filter\nChain INPUT (policy DROP)\nnum  target ", status);

            // save: the previous file becomes a dated backup, the live counters go to the file.
            var (saveRc, saved, _) = Cli(dir, "service", "save");
            Assert.Equal(0, saveRc);
            var backup = Assert.Single(Directory.GetFiles(dir, "rules.v4-*_BAK"));
            Assert.Matches(@"^rules\.v4-\d{4}-\d\d-\d\d_\d{6}_BAK$", Path.GetFileName(backup));
            Assert.Equal($"sharptables: Saving firewall rules to {rulesFile}: [  OK  ] (previous file kept as {Path.GetFileName(backup)})\n", saved);
            Assert.Equal(Rules, File.ReadAllText(backup));
            Assert.Contains("[5:190] -A INPUT -p udp -m udp --dport 53 -j ACCEPT\n", File.ReadAllText(rulesFile));
            var firstSave = File.ReadAllText(rulesFile);
            Assert.Equal(0, Cli(dir, "service", "save").Rc);
            Assert.Equal(2, Directory.GetFiles(dir, "rules.v4-*_BAK*").Length);
            Assert.Contains(Directory.GetFiles(dir, "rules.v4-*_BAK*"), f => File.ReadAllText(f) == firstSave);

            // stop: no firewall at all.
            Assert.Equal((0, "Stopping sharptablesd: [  OK  ]\n"), Service(lab, dir, "stop"));
            Assert.DoesNotContain("SHARPTABLESD", lab.Exec(lab.Fw, "iptables", "-S"));
            Assert.Equal((3, "sharptablesd: Firewall is not running.\n", ""), Cli(dir, "service", "status"));
            Assert.True(Udp(client, other, 54));

            // restart brings back the saved rules and counters.
            Assert.Equal((0, $"Stopping sharptablesd: [  OK  ]\nStarting sharptablesd (rules from {dir}): [  OK  ]\n"), Service(lab, dir, "restart"));
            Assert.False(Udp(client, other, 54));
            Assert.Contains("[5:190] -A INPUT -p udp -m udp --dport 53 -j ACCEPT\n", Cli(dir, "save", "-c").Out);
            Assert.Equal(0, Service(lab, dir, "stop").Rc);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static (int Rc, string Output) Service(NetnsLab lab, string dir, string action) =>
        lab.TryExec(lab.Fw, "dotnet", Path.Combine(AppContext.BaseDirectory, "sharptables.dll"), "--state-dir", dir, "service", action);

    private static (int Rc, string Out, string Err) Cli(string dir, params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int rc = SharpTablesCli.Run(["--state-dir", dir, .. args], o, e, TextReader.Null);
        return (rc, o.ToString(), e.ToString());
    }

    private static Socket Receiver(string ns, int port)
    {
        var s = Socket(ns, AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(IPAddress.Any, port));
        return s;
    }

    /// <summary>Sends a 10-byte datagram to <paramref name="port"/>; true when it arrived.</summary>
    private static bool Udp(Socket client, Socket receiver, int port)
    {
        client.SendTo(new byte[10], new IPEndPoint(FwAddress, port));
        if (!receiver.Poll(800_000, SelectMode.SelectRead)) return false;
        receiver.Receive(new byte[64]);
        return true;
    }
}
