using System.Diagnostics;
using SharpTables.Engine;

namespace SharpTables.Daemon;

/// <summary>The kernel hooks whose packets are sent to the daemon (see <see cref="Diversion"/>).</summary>
[Flags]
public enum DivertedHooks
{
    None = 0,
    /// <summary>filter INPUT: packets for this host, after the kernel's routing.</summary>
    Input = 1,
    /// <summary>filter FORWARD: packets the kernel forwards.</summary>
    Forward = 2,
    /// <summary>filter OUTPUT: packets this host sends.</summary>
    Output = 4,
    All = Input | Forward | Output,
    /// <summary>raw PREROUTING: every arriving packet, before the kernel routes it (instead of Input and Forward).</summary>
    PreRouting = 8,
    /// <summary>mangle INPUT and POSTROUTING, ticketed packets only: where a deferred new source is put in (<see cref="SourceTickets"/>).</summary>
    SourceNat = 16,
}

/// <summary>
/// Sends packets to the daemon's queues with the system's iptables (iptables-nft here; native
/// nft has no queue support on this kernel). Each table used gets one chain, <see cref="ChainName"/>,
/// holding the single <c>-j NFQUEUE</c> rule, plus one jump at the head of each diverted built-in
/// chain; <see cref="Remove"/> deletes exactly those, and a stale set left by a killed daemon is
/// removed before installing.
///
/// The engine runs its own full hook path for each packet, so every packet is queued once
/// (see <see cref="PacketPath.Decide"/>):
/// <list type="bullet">
/// <item>Filter mode (the ruleset has no nat table and no PREROUTING rules): jumps in filter INPUT,
/// FORWARD and/or OUTPUT. A packet queued at INPUT goes through the engine's PREROUTING and INPUT,
/// one queued at FORWARD through PREROUTING, FORWARD and POSTROUTING (its rewrites, say a mangle
/// POSTROUTING TTL, are handed back there, after the kernel's routing as in the kernel).</item>
/// <item>PREROUTING mode (a nat table, which also translates replies, or rules in raw/mangle/nat
/// PREROUTING): one jump in raw PREROUTING (priority -300, before the kernel's conntrack, NAT and
/// routing) replaces INPUT and FORWARD: the engine runs PREROUTING, its routing, INPUT or
/// FORWARD/POSTROUTING, and the rewritten packet (DNAT, REDIRECT, de-SNAT of replies) goes back
/// to the kernel, which routes it to its new destination. A new source cannot go back before that
/// routing (a source that is the host's own address is a martian there), so such packets carry a
/// ticket mark (0x5355xxxx) and the jumps in mangle INPUT and POSTROUTING queue exactly those once
/// more to get their source (<see cref="DivertedHooks.SourceNat"/>, with a nat table).</item>
/// <item>OUTPUT (both modes) for packets this host sends: the engine runs OUTPUT and POSTROUTING
/// (and, for a local destination, PREROUTING and INPUT on lo — which is why INPUT/PREROUTING do not
/// divert lo traffic when OUTPUT is diverted); the kernel re-routes a packet whose addresses or
/// mark changed.</item>
/// </list>
/// An ACCEPT verdict ends the kernel's chain for that packet, so other rules of the system's own
/// chain do not see diverted packets.
///
/// Without <c>--queue-bypass</c> (the default, fail-closed) the kernel drops queued packets while
/// no daemon listens; with fail-open it lets them pass.
/// </summary>
public sealed class Diversion
{
    /// <summary>The dedicated chain in each table used.</summary>
    public const string ChainName = "SHARPTABLESD";

    /// <summary>
    /// The packet mark of the daemon's own raw-socket replies (REJECT answers the engine already
    /// ran through OUTPUT): the jumps skip packets with this mark so they are not queued again.
    /// </summary>
    public const uint BypassMark = 0x53544400;

    /// <summary>
    /// Every built-in chain a jump may be put in, in the order they are installed: the second-pass
    /// jumps before the PREROUTING one that hands out tickets, so no ticketed packet slips past.
    /// </summary>
    private static readonly (DivertedHooks Hook, string Table, string Chain)[] Jumps =
    [
        (DivertedHooks.SourceNat, "mangle", "INPUT"), (DivertedHooks.SourceNat, "mangle", "POSTROUTING"),
        (DivertedHooks.Input, "filter", "INPUT"), (DivertedHooks.Forward, "filter", "FORWARD"), (DivertedHooks.Output, "filter", "OUTPUT"),
        (DivertedHooks.PreRouting, "raw", "PREROUTING"),
    ];

    private static readonly string[] Tables = ["raw", "mangle", "filter"];

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
    /// The hooks a compiled family needs. With a nat table or PREROUTING rules: PREROUTING, OUTPUT
    /// and (nat) the source pass. Otherwise INPUT when INPUT has rules or a DROP policy, FORWARD for
    /// FORWARD or POSTROUTING, OUTPUT for OUTPUT or POSTROUTING. A ruleset that tracks connections
    /// needs both directions of every flow, so it diverts all arriving and all sent packets.
    /// </summary>
    public static DivertedHooks Plan(FamilyRules family)
    {
        bool pre = Used(family, "PREROUTING"), input = Used(family, "INPUT"), fwd = Used(family, "FORWARD"),
            output = Used(family, "OUTPUT"), post = Used(family, "POSTROUTING");
        // A nat table translates the replies of its connections even when its chains are empty.
        bool nat = family.Table("nat") != null;
        bool early = pre || nat;
        var hooks = DivertedHooks.None;
        if (early) hooks |= DivertedHooks.PreRouting;
        if (!early && input) hooks |= DivertedHooks.Input;
        if (!early && (fwd || post)) hooks |= DivertedHooks.Forward;
        if (output || post) hooks |= DivertedHooks.Output;
        if (hooks != DivertedHooks.None && family.ConntrackEnabled)
            hooks |= (early ? DivertedHooks.PreRouting : DivertedHooks.Input | DivertedHooks.Forward) | DivertedHooks.Output;
        if (nat) hooks |= DivertedHooks.Output | DivertedHooks.SourceNat;
        return hooks;
    }

    private static bool Used(FamilyRules family, string chain)
    {
        foreach (var t in family.AllTables)
            if (t.Chain(chain) is { IsBuiltin: true } c && (c.RuleCount > 0 || c.PolicyDrop)) return true;
        return false;
    }

    /// <summary>The iptables argument lists <see cref="Install"/> runs, in order: a table's chain and queue rule before its first jump.</summary>
    public IReadOnlyList<string[]> InstallCommands()
    {
        var commands = new List<string[]>();
        var created = new HashSet<string>();
        bool loByOutput = (Hooks & DivertedHooks.Output) != 0;
        foreach (var (hook, table, chain) in Jumps)
        {
            if ((Hooks & hook) == 0) continue;
            if (created.Add(table))
            {
                commands.Add(["-t", table, "-N", ChainName]);
                var queue = new List<string> { "-t", table, "-A", ChainName, "-j", "NFQUEUE" };
                if (Queues > 1) queue.AddRange(["--queue-balance", $"{FirstQueue}:{FirstQueue + Queues - 1}"]);
                else queue.AddRange(["--queue-num", FirstQueue.ToString()]);
                if (FailOpen) queue.Add("--queue-bypass");
                commands.Add([.. queue]);
            }
            var jump = new List<string> { "-t", table, "-I", chain, "1" };
            if (hook == DivertedHooks.SourceNat)
                jump.AddRange(["-m", "mark", "--mark", $"0x{SourceTickets.Base:x}/0x{SourceTickets.Mask:x}"]);
            else
            {
                if (hook is DivertedHooks.Input or DivertedHooks.PreRouting && loByOutput) jump.AddRange(["!", "-i", "lo"]);
                jump.AddRange(["-m", "mark", "!", "--mark", $"0x{BypassMark:x}"]);
            }
            jump.AddRange(["-j", ChainName]);
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

    /// <summary>
    /// Deletes every jump to <see cref="ChainName"/> from the raw, mangle and filter tables, then the
    /// chains. Safe to call when nothing is installed (tables that do not exist are not created).
    /// </summary>
    public void Remove()
    {
        foreach (var table in Tables)
        {
            var (rc, listing, _) = Run(["-t", table, "-S"]);
            if (rc != 0) continue;
            bool chain = false;
            foreach (var line in listing.Split('\n'))
            {
                var words = line.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (words is ["-N", ChainName]) chain = true;
                if (words.Length < 4 || words[0] != "-A" || words[^2] != "-j" || words[^1] != ChainName) continue;
                words[0] = "-D";
                Run(["-t", table, .. words]);
            }
            if (!chain) continue;
            Run(["-t", table, "-F", ChainName]);
            Run(["-t", table, "-X", ChainName]);
        }
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
