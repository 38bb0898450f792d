using System.Collections.Immutable;
using System.Text;
using SharpTables.Rules.Extensions;
using SharpTables.Rules.Printing;

namespace SharpTables.Rules.Model;

public enum FragmentMatch : byte { Any, Fragments, NotFragments }

/// <summary>
/// The part of a rule every packet is tested against before any match: the kernel's
/// <c>struct ipt_ip</c> (addresses, interfaces, protocol, fragment flag and their inversions).
/// Addresses are kept as <see cref="UInt128"/> so IPv6 fits the same model; IPv4 uses the low 32 bits.
/// </summary>
public sealed record RuleHeader
{
    public Family Family { get; init; }
    public UInt128 Source { get; init; }
    public UInt128 SourceMask { get; init; }
    public bool InvertSource { get; init; }
    public UInt128 Destination { get; init; }
    public UInt128 DestinationMask { get; init; }
    public bool InvertDestination { get; init; }
    public string InInterface { get; init; } = "";
    public bool InvertIn { get; init; }
    public string OutInterface { get; init; } = "";
    public bool InvertOut { get; init; }
    /// <summary>IP protocol number; 0 means any (<c>-p all</c>).</summary>
    public ushort Protocol { get; init; }
    public bool InvertProtocol { get; init; }
    public FragmentMatch Fragment { get; init; }
}

/// <summary>
/// One rule: header, matches in command-line order, and an optional target.
/// Two rules are the same rule (for <c>-D</c>/<c>-C</c>) when their canonical text is the same.
/// </summary>
public sealed class Rule
{
    private string? _canonical;

    private static long s_serial;

    public Rule(RuleHeader header, ImmutableArray<MatchInstance> matches, TargetInstance? target)
    {
        Header = header;
        Matches = matches;
        Target = target;
        Serial = Interlocked.Increment(ref s_serial);
    }

    /// <summary>
    /// Creation order of rules in this process: a restore file's rules number in file order. The
    /// kernel runs its extensions' checkentry in that order, and the first rule naming a recent
    /// list or hashlimit table decides its parameters.
    /// </summary>
    public long Serial { get; }

    public RuleHeader Header { get; }
    public ImmutableArray<MatchInstance> Matches { get; }
    public TargetInstance? Target { get; }

    /// <summary>The rule as <c>iptables -S</c> prints it after <c>-A CHAIN</c> (no leading space).</summary>
    public string Canonical => _canonical ??= SavePrinter.RuleBody(this, counters: null);

    public bool SameAs(Rule other) => Canonical == other.Canonical;
}
