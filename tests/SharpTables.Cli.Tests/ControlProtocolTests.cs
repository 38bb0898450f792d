using System.Net.Sockets;
using SharpTables.Cli.Control;

namespace SharpTables.Cli.Tests;

/// <summary>The control socket's framing and the CLI's behaviour when no daemon answers.</summary>
public class ControlProtocolTests
{
    [Fact]
    public void A_message_is_a_big_endian_length_and_camel_case_json()
    {
        var stream = new MemoryStream();
        ControlProtocol.Write(stream, new ControlRequest { Version = 1, Argv = ["-L"] });
        var bytes = stream.ToArray();
        var json = System.Text.Encoding.UTF8.GetString(bytes, 4, bytes.Length - 4);
        Assert.Equal(bytes.Length - 4, (bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]);
        Assert.StartsWith("{\"version\":1,\"argv\":[\"-L\"],", json);
        stream.Position = 0;
        Assert.Equal(["-L"], ControlProtocol.Read<ControlRequest>(stream).Argv!);
    }

    [Theory]
    [InlineData(new byte[] { 0x7f, 0xff, 0xff, 0xff, (byte)'{' })]
    [InlineData(new byte[] { 0, 0, 0, 9, (byte)'{', (byte)'}' })]
    [InlineData(new byte[] { 0, 0, 0, 2, (byte)'x', (byte)'}' })]
    [InlineData(new byte[] { 0, 0 })]
    public void Garbled_messages_are_refused_with_a_protocol_error(byte[] message)
    {
        Assert.Throws<ControlProtocolException>(() => ControlProtocol.Read<ControlRequest>(new MemoryStream(message)));
    }

    [Fact]
    public void The_recorder_keeps_the_order_of_stdout_and_stderr()
    {
        var r = new OutputRecorder();
        r.Error.WriteLine("warning");
        r.Out.Write("a");
        r.Out.WriteLine("b");
        r.Error.Write("e");
        Assert.Equal([new OutputChunk(2, "warning\n"), new OutputChunk(1, "ab\n"), new OutputChunk(2, "e")], r.Finish());
    }

    [Fact]
    public void Recent_without_a_daemon_says_so()
    {
        using var h = new CliHarness();
        var (rc, output, err) = h.Run("recent");
        Assert.Equal(1, rc);
        Assert.Equal("", output);
        Assert.Equal($"sharptables recent: no sharptablesd is running on {h.StateDir}; recent lists exist only in the running daemon " +
                     $"(start it: sharptablesd --state-dir {h.StateDir})\n", err);
    }

    [Fact]
    public void A_stale_socket_left_by_a_killed_daemon_is_ignored()
    {
        using var h = new CliHarness();
        // A socket file nobody listens on, as kill -9 leaves it (bound, never listening: connect is refused).
        var path = ControlProtocol.SocketPath(h.StateDir);
        using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Bind(new UnixDomainSocketEndPoint(path));
        Assert.True(File.Exists(path));
        Assert.Equal(0, h.Run("-A", "INPUT", "-j", "ACCEPT").Rc);
        Assert.Contains("-A INPUT -j ACCEPT", File.ReadAllText(h.RulesFile));
    }

    [Fact]
    public void Service_status_without_a_daemon_says_the_firewall_is_not_running()
    {
        using var h = new CliHarness();
        Assert.Equal((3, "sharptablesd: Firewall is not running.\n", ""), h.Run("service", "status"));
        Assert.Equal((2, "", "usage: sharptables service start|stop|restart|status|save\n"), h.Run("service", "reload"));
    }

    [Fact]
    public void Service_save_offline_keeps_a_dated_backup_of_the_previous_file()
    {
        using var h = new CliHarness();
        Assert.Equal(0, h.Run("-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT").Rc);
        var before = File.ReadAllText(h.RulesFile);
        var (rc, output, err) = h.Run("service", "save");
        Assert.Equal((0, ""), (rc, err));
        var backup = Assert.Single(Directory.GetFiles(h.StateDir, "rules.v4-*_BAK"));
        Assert.Equal($"sharptables: Saving firewall rules to {h.RulesFile}: [  OK  ] (previous file kept as {Path.GetFileName(backup)})\n", output);
        Assert.Equal(before, File.ReadAllText(backup));
        Assert.Equal(before, File.ReadAllText(h.RulesFile));
        Assert.False(File.Exists(h.RulesFile6));
    }
}
