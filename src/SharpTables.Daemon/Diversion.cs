using System.Diagnostics;
using SharpTables.Engine;

namespace SharpTables.Daemon;

/// <summary>The kernel hooks (filter table) whose packets are sent to the daemon.</summary>
[Flags]
public enum DivertedHooks { None = 0, Input = 1, Forward = 2, Output = 4, All = Input | Forward | Output }

/// <summary>
/// Sends packets to the daemon's queues with the system's iptables (iptables-nft here; native
/// nft has no queue support on this kernel). Everything lives in one chain of the filter table,
/// <see cref="ChainName"/>, holding the single <c>-j NFQUEUE</c> rule, plus one jump at the head of
/// each diverted built-in chain; <see cref="Remove"/> deletes exactly those, and a stale set left by
/// a killed daemon is removed before installing.
///
/// The engine then runs its own full hook path for each packet (see <see cref="QueueWorker"/>):
/// a packet queued at INPUT goes through the engine's PREROUTING and INPUT, one queued at FORWARD
/// through PREROUTING, FORWARD and POSTROUTING, one queued at OUTPUT through OUTPUT and
/// POSTROUTING (and, for a local destination, PREROUTING and INPUT on lo — which is why INPUT does
/// not divert lo traffic when OUTPUT is diverted). An ACCEPT verdict ends the kernel's filter
/// chain for that packet, so other rules of the system's filter table do not see diverted packets.
///
/// Without <c>--queue-bypass</c> (the default, fail-closed) the kernel drops queued packets while
/// no daemon listens; with fail-open it lets them pass.
/// </summary>
public sealed class Diversion
{
    /// <summary>The dedicated chain in the filter table.</summary>
    public const string ChainName = "SHARPTABLESD";

    /// <summary>
    /// The packet mark of the daemon's own raw-socket replies (REJECT answers the engine already
    /// ran through OUTPUT): the jumps skip packets with this mark so they are not queued again.
    /// </summary>
    public const uint BypassMark = 0x53544400;

    private static readonly (DivertedHooks Hook, string Chain)[] Chains =
        [(DivertedHooks.Input, "INPUT"), (DivertedHooks.Forward, "FORWARD"), (DivertedHooks.Output, "OUTPUT")];

    public Diversion(string iptables, DivertedHooks hooks, ushort firstQueue, int queues, bool failOpen)
    {
        Iptables = iptables;
        Hooks = hooks;
        FirstQueue = firstQueue;
        Queues = queues;
        FailOpen = failOpen;
    }

    /// <summary>The iptables binary (iptables or ip6tables).</summary>
    public string Iptables { get; }
    public DivertedHooks Hooks { get; }
    public ushort FirstQueue { get; }
    public int Queues { get; }
    public bool FailOpen { get; }

    /// <summary>
    /// The hooks a compiled family needs: INPUT when PREROUTING or INPUT chains have rules or a DROP
    /// policy, FORWARD for PREROUTING, FORWARD or POSTROUTING, OUTPUT for OUTPUT or POSTROUTING.
    /// A ruleset that tracks connections needs both directions of every flow, so it diverts all three.
    /// </summary>
    public static DivertedHooks Plan(FamilyRules family)
    {
        bool pre = Used(family, "PREROUTING"), input = Used(family, "INPUT"), fwd = Used(family, "FORWARD"),
            output = Used(family, "OUTPUT"), post = Used(family, "POSTROUTING");
        var hooks = DivertedHooks.None;
        if (pre || input) hooks |= DivertedHooks.Input;
        if (pre || fwd || post) hooks |= DivertedHooks.Forward;
        if (output || post) hooks |= DivertedHooks.Output;
        if (hooks != DivertedHooks.None && family.ConntrackEnabled) hooks = DivertedHooks.All;
        return hooks;
    }

    private static bool Used(FamilyRules family, string chain)
    {
        foreach (var t in family.AllTables)
            if (t.Chain(chain) is { IsBuiltin: true } c && (c.RuleCount > 0 || c.PolicyDrop)) return true;
        return false;
    }

    /// <summary>The iptables argument lists <see cref="Install"/> runs, in order.</summary>
    public IReadOnlyList<string[]> InstallCommands()
    {
        var commands = new List<string[]>();
        if (Hooks == DivertedHooks.None) return commands;
        commands.Add(["-t", "filter", "-N", ChainName]);
        var queue = new List<string> { "-t", "filter", "-A", ChainName, "-j", "NFQUEUE" };
        if (Queues > 1) queue.AddRange(["--queue-balance", $"{FirstQueue}:{FirstQueue + Queues - 1}"]);
        else queue.AddRange(["--queue-num", FirstQueue.ToString()]);
        if (FailOpen) queue.Add("--queue-bypass");
        commands.Add([.. queue]);
        foreach (var (hook, chain) in Chains)
        {
            if ((Hooks & hook) == 0) continue;
            var jump = new List<string> { "-t", "filter", "-I", chain, "1" };
            if (hook == DivertedHooks.Input && (Hooks & DivertedHooks.Output) != 0) jump.AddRange(["!", "-i", "lo"]);
            jump.AddRange(["-m", "mark", "!", "--mark", $"0x{BypassMark:x}", "-j", ChainName]);
            commands.Add([.. jump]);
        }
        return commands;
    }

    /// <summary>Removes any earlier diversion, then installs this one. Throws with iptables' message on failure.</summary>
    public void Install()
    {
        Remove();
        foreach (var args in InstallCommands())
        {
            var (rc, _, err) = Run(args);
            if (rc != 0) throw new InvalidOperationException($"{Iptables} {string.Join(' ', args)} failed (exit {rc}): {err.Trim()}");
        }
    }

    /// <summary>Deletes every jump to <see cref="ChainName"/> from INPUT, FORWARD and OUTPUT, then the chain. Safe to call when nothing is installed.</summary>
    public void Remove()
    {
        foreach (var (_, chain) in Chains)
        {
            var (rc, listing, _) = Run(["-t", "filter", "-S", chain]);
            if (rc != 0) continue;
            foreach (var line in listing.Split('\n'))
            {
                var words = line.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (words.Length < 4 || words[0] != "-A" || words[^2] != "-j" || words[^1] != ChainName) continue;
                words[0] = "-D";
                Run(["-t", "filter", .. words]);
            }
        }
        Run(["-t", "filter", "-F", ChainName]);
        Run(["-t", "filter", "-X", ChainName]);
    }

    private (int Rc, string Out, string Err) Run(string[] args)
    {
        var psi = new ProcessStartInfo(Iptables)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("-w");
        psi.ArgumentList.Add("10");
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot run {Iptables}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(30_000))
        {
            p.Kill(entireProcessTree: true);
            return (124, "", $"{Iptables} timed out");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
