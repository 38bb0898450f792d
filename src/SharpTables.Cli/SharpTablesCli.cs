using System.Net.Sockets;
using SharpTables.Cli.Control;
using SharpTables.Engine.State;
using SharpTables.Rules;
using SharpTables.Simulation;
using SharpTables.Rules.Commands;
using SharpTables.Rules.Model;
using SharpTables.Rules.Parsing;
using SharpTables.Rules.Storage;

namespace SharpTables.Cli;

/// <summary>
/// The <c>sharptables</c> command: iptables' command line on a ruleset kept in the state directory,
/// plus <c>save</c> and <c>restore</c> (also reachable as sharptables-save / sharptables-restore
/// through <c>--as NAME</c>, which the wrapper scripts pass). IPv6 (ip6tables' language, the
/// <c>rules.v6</c> ruleset) is selected by a leading <c>-6</c>/<c>--ipv6</c>, by <c>-6</c> after
/// save/restore, or by a program name of the IPv6 family (<c>--as sharptables6</c>,
/// <c>--as ip6tables</c>, and their -save/-restore forms).
///
/// When a sharptablesd answers on the state directory's control socket, the whole command line
/// goes to it instead: the daemon runs this same code on its live ruleset and sends back the
/// output and exit code, so the result is the same as offline (with live counters).
/// </summary>
public static class SharpTablesCli
{
    public const string Version = "0.1.0";

    /// <summary>Runs one invocation as the command line tool (offline, or through a running daemon).</summary>
    public static int Run(string[] argv, TextWriter stdout, TextWriter stderr, TextReader stdin) =>
        Run(argv, stdout, stderr, stdin, new CliContext());

    /// <summary>Runs one invocation in the given context (the daemon passes its own host).</summary>
    public static int Run(string[] argv, TextWriter stdout, TextWriter stderr, TextReader stdin, CliContext context)
    {
        var args = argv.ToList();
        string prog = "sharptables";
        string? stateDir = null;
        // Our own options, taken out before iptables parsing sees the words.
        for (int i = 0; i < args.Count;)
        {
            if (args[i] == "--as" && i + 1 < args.Count) { prog = args[i + 1]; args.RemoveRange(i, 2); continue; }
            if (args[i] == "--state-dir" && i + 1 < args.Count) { stateDir = args[i + 1]; args.RemoveRange(i, 2); continue; }
            if (args[i].StartsWith("--state-dir=", StringComparison.Ordinal)) { stateDir = args[i][12..]; args.RemoveAt(i); continue; }
            i++;
        }
        var family = IsIpv6Name(prog) ? Family.IPv6 : Family.IPv4;
        // "sharptables -6 ..." selects ip6tables (the word stays: ip6tables takes -6 as a no-op). Under
        // an iptables name (--as iptables) -6 is iptables' own option, which it refuses.
        bool leading6 = prog == "sharptables" && args.Count > 0 && args[0] is "-6" or "--ipv6";
        if (leading6) family = Family.IPv6;
        int sub = leading6 ? 1 : 0;
        if (args.Count > sub && args[sub] is "save" or "restore")
        {
            string kind = args[sub];
            args.RemoveRange(0, sub + 1);
            // After save/restore, -6 is ours too (ip6tables-save/-restore have no such option).
            if (args.RemoveAll(a => a is "-6" or "--ipv6") > 0) family = Family.IPv6;
            prog = (family == Family.IPv6 ? "sharptables6-" : "sharptables-") + kind;
        }
        else if (leading6)
        {
            prog = "sharptables6";
        }
        var store = new StateStore(StateStore.ResolveDirectory(stateDir), family);
        Xt.WarningWriter = stderr;
        string? word = args.Count > 0 ? args[0] : null;
        if (word is "simulate" or "classbench")
        {
            if (context.InDaemon) return NotThroughDaemon(word, stderr);
            try
            {
                return word == "simulate"
                    ? SimulateCommand.Run(args.Skip(1).ToList(), store, stdout, stderr)
                    : ClassBenchCommand.Run(args.Skip(1).ToList(), stdout, stderr);
            }
            catch (Exception e) when (e is UsageException or ScenarioException or IOException or XtablesException or System.Text.Json.JsonException or NotSupportedException)
            {
                stderr.WriteLine($"sharptables {word}: {(e is XtablesException x ? x.Render("sharptables-restore") : e.Message)}");
                if (e is UsageException) stderr.Write(SimulateCommand.Usage);
                return 2;
            }
        }
        if (word is "demo")
            return context.InDaemon ? NotThroughDaemon(word, stderr) : Demo.DemoCommand.Run(args.Skip(1).ToList(), stdout, stderr);
        if (word is "service" && !ServiceCommand.IsSave(args))
            return context.InDaemon ? NotThroughDaemon(word, stderr) : ServiceCommand.Run(args.Skip(1).ToList(), store.Directory, stdout, stderr);
        if (context.Host == null)
        {
            Socket? daemon;
            try
            {
                daemon = ControlClient.TryConnect(store.Directory);
            }
            catch (UnauthorizedAccessException e)
            {
                stderr.WriteLine($"{prog}: {e.Message}");
                return 4;
            }
            if (daemon != null)
                using (daemon)
                    return Forward(daemon, argv, args, prog, store.Directory, stdin, stdout, stderr, context);
        }
        if (word == "recent") return RecentCommand(args.Skip(1).ToList(), context.Recent, store.Directory, stdout, stderr);
        var host = context.Host ?? FileRulesetHost.Instance;
        try
        {
            if (word == "service") return ServiceCommand.Save(host, store.Directory, context, stdout);
            if (prog.EndsWith("-save", StringComparison.Ordinal)) return SaveCommand(args, host, store, stdout, prog, context);
            if (prog.EndsWith("-restore", StringComparison.Ordinal)) return RestoreCommand(args, host, store, stdout, stdin, prog, context);
            return IptablesCommand(args, host, store, stdout, family);
        }
        catch (XtablesException e)
        {
            string name = prog;
            ProgramNames.Main = family == Family.IPv6 ? "sharptables6" : "sharptables";
            stderr.WriteLine(e.Render(name));
            Hints.Write(argv, stderr, context.HintsMode, context.StderrIsTerminal);
            return (int)e.Exit;
        }
        catch (IOException e)
        {
            stderr.WriteLine($"{prog}: {e.Message}");
            return 4;
        }
        catch (UnauthorizedAccessException e)
        {
            stderr.WriteLine($"{prog}: {e.Message} (state directory {store.Directory}; use --state-dir or SHARPTABLES_STATE_DIR)");
            return 4;
        }
    }

    private static int NotThroughDaemon(string word, TextWriter stderr)
    {
        stderr.WriteLine($"sharptablesd: `{word}' runs in the sharptables command itself, not through the daemon");
        return 2;
    }

    /// <summary>Sends the whole command line to the daemon and prints its answer.</summary>
    private static int Forward(Socket daemon, string[] argv, List<string> args, string prog, string directory,
        TextReader stdin, TextWriter stdout, TextWriter stderr, CliContext context)
    {
        string? input = null;
        if (prog.EndsWith("-restore", StringComparison.Ordinal))
        {
            // Only a restore without a file reads stdin; the daemon cannot read ours, so it travels along.
            RestoreArgs? parsed = null;
            try { parsed = ParseRestoreArgs(args, prog); }
            catch (XtablesException) { /* the daemon reports it, with the same words */ }
            if (parsed is { Version: false, File: null or "-" }) input = stdin.ReadToEnd();
        }
        var request = new ControlRequest
        {
            Version = ControlProtocol.Version,
            Argv = argv,
            Cwd = Environment.CurrentDirectory,
            Stdin = input,
            StderrIsTerminal = context.StderrIsTerminal,
            Hints = context.HintsMode,
            Now = DateTime.SpecifyKind(context.Now ?? DateTime.Now, DateTimeKind.Unspecified),
        };
        try
        {
            return ControlClient.Replay(ControlClient.Send(daemon, request), stdout, stderr);
        }
        catch (Exception e) when (e is SocketException or IOException or ControlProtocolException)
        {
            stderr.WriteLine($"{prog}: sharptablesd did not answer on {ControlProtocol.SocketPath(directory)}: {e.Message}");
            return 4;
        }
    }

    /// <summary>
    /// <c>sharptables recent [NAME [+ADDR|-ADDR|/]]</c>: the daemon's xt_recent lists as
    /// /proc/net/xt_recent shows them: no NAME lists the names, NAME prints the list, and a third
    /// word is written to it as <c>echo WORD &gt; /proc/net/xt_recent/NAME</c> would.
    /// </summary>
    private static int RecentCommand(List<string> args, RecentTables? recent, string directory, TextWriter stdout, TextWriter stderr)
    {
        if (recent == null)
        {
            stderr.WriteLine($"sharptables recent: no sharptablesd is running on {directory}; recent lists exist only in the running daemon " +
                             $"(start it: sharptablesd --state-dir {directory})");
            return 1;
        }
        if (args.Count > 2 || args.Any(a => a.Length == 0))
        {
            stderr.WriteLine("usage: sharptables recent [NAME [+ADDR | -ADDR | /]]");
            return 2;
        }
        if (args.Count == 0)
        {
            foreach (var name in recent.Names) stdout.WriteLine(name);
            return 0;
        }
        try
        {
            if (args.Count == 1) stdout.Write(recent.Read(args[0]));
            else recent.Write(args[0], args[1].EndsWith('\n') ? args[1] : args[1] + "\n");
            return 0;
        }
        catch (RecentProcException e)
        {
            stderr.WriteLine($"sharptables recent: {args[0]}: {e.Message}");
            return 1;
        }
    }

    /// <summary>Program names of the IPv6 family: sharptables6[-save|-restore], ip6tables[-nft][-save|-restore].</summary>
    public static bool IsIpv6Name(string prog)
    {
        var name = Path.GetFileName(prog);
        return name.StartsWith("sharptables6", StringComparison.Ordinal) || name.StartsWith("ip6tables", StringComparison.Ordinal);
    }

    private static int IptablesCommand(List<string> args, IRulesetHost host, StateStore store, TextWriter stdout, Family family)
    {
        string tool = family == Family.IPv6 ? "ip6tables" : "iptables";
        ProgramNames.Main = family == Family.IPv6 ? "sharptables6" : "sharptables";
        if (args.Count == 1 && args[0] is "-V" or "--version")
        {
            stdout.WriteLine($"{ProgramNames.Main} v{Version} ({tool} {XtablesException.VersionTag} compatible)");
            return 0;
        }
        using var session = host.Open(store.Directory, family);
        var ruleset = session.Load();
        var before = Restore.Save(ruleset, counters: true);
        var exec = new CommandExecutor(ruleset);
        var parser = new CommandParser(ruleset.Family, chainExists: exec.ChainExists);
        var cmd = parser.Parse(args);
        if (cmd.Version)
        {
            stdout.WriteLine($"{ProgramNames.Main} v{Version} ({tool} {XtablesException.VersionTag} compatible)");
            return 0;
        }
        var output = exec.Execute(cmd);
        stdout.Write(output);
        if (Restore.Save(ruleset, counters: true) != before) session.Save(ruleset);
        return 0;
    }

    private static int SaveCommand(List<string> args, IRulesetHost host, StateStore store, TextWriter stdout, string prog, CliContext context)
    {
        bool counters = false;
        string? table = null;
        for (int i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "-c": case "--counters": break;
                case "-t": case "--table":
                    if (i + 1 >= args.Count) throw new XtablesException(XtablesExit.OtherProblem, $"{prog}: option requires an argument -- 't'", ErrorStyle.Plain);
                    table = args[++i];
                    if (BuiltinTables.Find(table) == null)
                        throw new XtablesException(XtablesExit.OtherProblem, $"Table `{table}' does not exist", ErrorStyle.Plain);
                    break;
                case "-V": case "--version":
                    stdout.WriteLine($"{prog} {XtablesException.VersionTag}");
                    return 0;
                default:
                    if (args[i].StartsWith("--table=", StringComparison.Ordinal)) { table = args[i][8..]; break; }
                    throw new XtablesException(XtablesExit.OtherProblem, $"{prog}: invalid option -- '{args[i].TrimStart('-')}'\nTry `{prog} -h' for more information.", ErrorStyle.Plain);
            }
            if (args[i] is "-c" or "--counters") counters = true;
        }
        ProgramNames.Save = prog;
        using var session = host.Open(store.Directory, store.Family);
        var ruleset = session.Load();
        if (table != null && ruleset.Find(table) == null)
        {
            // A named table that does not exist is printed with its empty built-in chains.
            var shown = new Ruleset(ruleset.Family);
            shown.GetOrCreate(table);
            ruleset = shown;
        }
        stdout.Write(Restore.Save(ruleset, counters, table, context.Now ?? DateTime.Now));
        return 0;
    }

    /// <summary>What iptables-restore's command line asks for.</summary>
    private sealed record RestoreArgs(bool Counters, bool NoFlush, bool Test, string? Table, string? File, bool Version);

    /// <summary>iptables-restore's options, with its error texts; stops at -V as it does.</summary>
    private static RestoreArgs ParseRestoreArgs(List<string> args, string prog)
    {
        bool counters = false, noflush = false, test = false;
        string? table = null, file = null;
        XtablesException Usage(string text) => new(XtablesExit.OtherProblem, text, ErrorStyle.Plain);
        for (int i = 0; i < args.Count; i++)
        {
            var a = args[i];
            switch (a)
            {
                case "-c": case "--counters": counters = true; break;
                case "-n": case "--noflush": noflush = true; break;
                case "-t": case "--test": test = true; break;
                case "-v": case "--verbose": case "-4": case "--ipv4": break;
                case "-w": case "--wait":
                    if (i + 1 < args.Count && args[i + 1].All(char.IsAsciiDigit)) i++;
                    break;
                case "-V": case "--version":
                    return new RestoreArgs(counters, noflush, test, table, file, Version: true);
                case "-T": case "--table":
                    if (i + 1 >= args.Count) throw Usage($"{prog}: option requires an argument -- 'T'\nTry `{prog} -h' for more information.");
                    table = args[++i];
                    break;
                default:
                    if (a.StartsWith("--table=", StringComparison.Ordinal)) { table = a[8..]; break; }
                    if (a.StartsWith('-') && a != "-")
                        throw Usage($"{prog}: invalid option -- '{a.TrimStart('-')}'\nTry `{prog} -h' for more information.");
                    if (file != null) throw Usage("Unknown arguments found on commandline");
                    file = a;
                    break;
            }
        }
        return new RestoreArgs(counters, noflush, test, table, file, Version: false);
    }

    private static int RestoreCommand(List<string> args, IRulesetHost host, StateStore store, TextWriter stdout, TextReader stdin, string prog, CliContext context)
    {
        var a = ParseRestoreArgs(args, prog);
        if (a.Version)
        {
            stdout.WriteLine($"{prog} {XtablesException.VersionTag}");
            return 0;
        }
        ProgramNames.Restore = prog;
        string text;
        if (a.File == null || a.File == "-") text = stdin.ReadToEnd();
        else if (!File.Exists(context.Resolve(a.File)))
            throw new XtablesException(XtablesExit.OtherProblem, $"Can't open {a.File}: No such file or directory", ErrorStyle.Plain);
        else text = File.ReadAllText(context.Resolve(a.File));
        using var session = host.Open(store.Directory, store.Family);
        var ruleset = session.Load();
        var updated = Restore.Apply(ruleset, text, new RestoreOptions { Counters = a.Counters, NoFlush = a.NoFlush, OnlyTable = a.Table });
        if (!a.Test) session.Save(updated);
        return 0;
    }
}
