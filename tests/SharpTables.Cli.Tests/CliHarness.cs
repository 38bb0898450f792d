using System.Diagnostics;
using SharpTables.Cli;

namespace SharpTables.Cli.Tests;

/// <summary>Runs the CLI in-process or as a child process against a private state directory.</summary>
public sealed class CliHarness : IDisposable
{
    public string StateDir { get; } = Directory.CreateTempSubdirectory("sharptables-test-").FullName;

    public (int Rc, string Out, string Err) Run(params string[] args) => RunWithInput(null, args);

    public (int Rc, string Out, string Err) RunWithInput(string? stdin, params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int rc = SharpTablesCli.Run(["--state-dir", StateDir, .. args], o, e, new StringReader(stdin ?? ""));
        return (rc, o.ToString(), e.ToString());
    }

    /// <summary>Runs sharptables.dll as its own process (for locking and crash tests).</summary>
    public Process Start(params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "sharptables.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        psi.ArgumentList.Add("--state-dir");
        psi.ArgumentList.Add(StateDir);
        foreach (var a in args) psi.ArgumentList.Add(a);
        return Process.Start(psi)!;
    }

    public string RulesFile => Path.Combine(StateDir, "rules.v4");
    public string RulesFile6 => Path.Combine(StateDir, "rules.v6");

    public void Dispose()
    {
        try { Directory.Delete(StateDir, recursive: true); } catch (IOException) { }
    }
}
