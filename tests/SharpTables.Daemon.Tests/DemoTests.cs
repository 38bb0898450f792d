using System.Diagnostics;
using System.Text;

namespace SharpTables.Daemon.Tests;

/// <summary>
/// <c>sharptables demo</c> as a user runs it (its own process). Expectations are what the kernel
/// does: a listener accepts, a closed port answers a SYN (or a flagless segment) with RST+ACK, a
/// dropped SYN gets nothing; the web-host ruleset keeps 22 and 80 and drops the fourth SSH
/// connection of a minute. And nothing of the demo may be left afterwards, even when interrupted.
/// </summary>
[Collection("netns")]
public sealed class DemoTests
{
    [NetnsFact]
    public void The_demo_shows_the_firewall_at_work_and_leaves_nothing_behind()
    {
        var (rc, output) = RunDemo(interruptAt: null);
        Assert.True(rc == 0, output);
        var before = Section(output, "== 2.", "== 3.");
        var after = Section(output, "== 5.", "== 6.");
        foreach (var port in new[] { "22", "80", "3306", "8080" }) Assert.Matches($@"\n   {port} +open ", before);
        foreach (var port in new[] { "21", "23", "25", "443" }) Assert.Matches($@"\n   {port} +closed ", before);
        foreach (var port in new[] { "22", "80" }) Assert.Matches($@"\n   {port} +open ", after);
        foreach (var port in new[] { "21", "23", "25", "443", "3306", "8080" }) Assert.Matches($@"\n   {port} +filtered ", after);
        Assert.Contains("NULL (no flags)   to port 23 : answered with RST,ACK", Section(output, "== 3.", "== 4."));
        Assert.DoesNotContain("answered", Section(output, "== 6.", "== 7."));
        var ssh = Section(output, "== 7.", "== 8.");
        for (int i = 1; i <= 3; i++) Assert.Contains($"attempt {i}: connected, server says SSH-2.0-", ssh);
        for (int i = 4; i <= 6; i++) Assert.Contains($"attempt {i}: no answer (dropped)", ssh);
        Assert.Matches(@"<4> kernel: DROP INPUT: IN=eth0 OUT= MAC=\S+ SRC=198\.51\.100\.2 DST=198\.51\.100\.1 .* SYN URGP=0 +=> DROP", Section(output, "== 8.", "== 9."));
        Assert.Matches(@"\n +\d+ +\d+ DROP +6 +-- .*recent: UPDATE seconds: 60 hit_count: 4", Section(output, "== 9.", "== 10."));
        Assert.Matches(@"src=198\.51\.100\.2 ttl: 64 last_seen: \d+", Section(output, "== 10.", "== 11."));
        AssertNothingLeft();
    }

    [NetnsFact]
    public void An_interrupted_demo_cleans_up()
    {
        var (rc, output) = RunDemo(interruptAt: "== 5.");
        Assert.True(rc == 130, output);
        Assert.Contains("sharptables demo: interrupted; cleaning up", output);
        AssertNothingLeft();
    }

    [NetnsFact]
    public void Without_root_the_demo_says_what_it_needs()
    {
        var psi = new ProcessStartInfo("setpriv") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--reuid=65534", "--regid=65534", "--clear-groups", "env", "HOME=/tmp", "dotnet",
                                  Path.Combine(AppContext.BaseDirectory, "sharptables.dll"), "demo" })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.Equal(1, p.ExitCode);
        Assert.StartsWith("sharptables demo: needs root: it creates two network namespaces", err);
        Assert.Contains("sudo ./sharptables demo", err);
    }

    private static (int Rc, string Output) RunDemo(string? interruptAt)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "sharptables.dll"));
        psi.ArgumentList.Add("demo");
        using var p = Process.Start(psi)!;
        var output = new StringBuilder();
        var reached = new ManualResetEventSlim();
        DataReceivedEventHandler collect = (_, e) =>
        {
            if (e.Data == null) return;
            lock (output) output.Append(e.Data).Append('\n');
            if (interruptAt != null && e.Data.StartsWith(interruptAt, StringComparison.Ordinal)) reached.Set();
        };
        p.OutputDataReceived += collect;
        p.ErrorDataReceived += collect;
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        if (interruptAt != null)
        {
            Assert.True(reached.Wait(90_000), "the demo never reached " + interruptAt);
            Assert.Equal(0, kill(p.Id, 2 /* SIGINT, as Ctrl-C sends it */));
        }
        if (!p.WaitForExit(120_000))
        {
            p.Kill();
            throw new TimeoutException("the demo hung");
        }
        p.WaitForExit();
        lock (output) return (p.ExitCode, output.ToString());
    }

    private static string Section(string output, string from, string to)
    {
        int start = output.IndexOf(from, StringComparison.Ordinal), end = output.IndexOf(to, StringComparison.Ordinal);
        Assert.True(start >= 0 && end > start, $"sections {from}..{to} missing:\n{output}");
        return output[start..end];
    }

    private static void AssertNothingLeft()
    {
        Assert.False(File.Exists("/run/netns/sharptables-demo-server"));
        Assert.False(File.Exists("/run/netns/sharptables-demo-client"));
        Assert.False(Directory.Exists("/run/sharptables-demo"));
        foreach (var dir in Directory.GetDirectories("/proc"))
            if (int.TryParse(Path.GetFileName(dir), out _))
            {
                string cmd;
                try { cmd = File.ReadAllText(Path.Combine(dir, "cmdline")); }
                catch (IOException) { continue; }
                Assert.DoesNotContain("/run/sharptables-demo", cmd);
            }
    }

    [System.Runtime.InteropServices.DllImport("libc")] private static extern int kill(int pid, int signal);
}
