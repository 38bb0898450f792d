using System.Text;
using SharpTables.Rules.Model;

namespace SharpTables.Rules.Extensions.Reject;

/// <summary>The reply the IPv6 REJECT sends (the kernel's enum ip6t_reject_with; the numbers are ABI).</summary>
public enum Reject6With : byte
{
    Icmp6NoRoute = 0,
    Icmp6AdmProhibited = 1,
    /// <summary>Not offered by ip6tables; kept for the numbering.</summary>
    Icmp6NotNeighbour = 2,
    Icmp6AddrUnreachable = 3,
    Icmp6PortUnreachable = 4,
    /// <summary>Not offered by ip6tables; kept for the numbering.</summary>
    Icmp6EchoReply = 5,
    TcpReset = 6,
    Icmp6PolicyFail = 7,
    Icmp6RejectRoute = 8,
}

/// <summary><c>-j REJECT</c> for ip6tables (libip6t_REJECT / ip6t_REJECT): drop the packet and answer it.</summary>
public sealed class Reject6Extension : TargetExtension
{
    public override string Name => "REJECT";

    public override IReadOnlyList<OptionDef> Options { get; } = [new("reject-with")];

    public override bool Supports(Family family) => family == Family.IPv6;

    public override TargetInstance Create() => new Reject6Target(this);
}

public sealed class Reject6Target(Reject6Extension ext) : TargetInstance
{
    /// <summary>Names and aliases in the order ip6tables tries them (index = <see cref="Reject6With"/>).</summary>
    private static readonly (string Name, string Alias)?[] s_types =
    [
        ("icmp6-no-route", "no-route"),
        ("icmp6-adm-prohibited", "adm-prohibited"),
        null, // not-neighbour
        ("icmp6-addr-unreachable", "addr-unreach"),
        ("icmp6-port-unreachable", "port-unreach"),
        null, // echo-reply
        ("tcp-reset", "tcp-reset"),
        ("icmp6-policy-fail", "policy-fail"),
        ("icmp6-reject-route", "reject-route"),
    ];

    public override Extension Extension => ext;

    /// <summary>The reply type; ICMPv6 port unreachable unless <c>--reject-with</c> says otherwise.</summary>
    public Reject6With With { get; private set; } = Reject6With.Icmp6PortUnreachable;

    /// <summary>The canonical name of the reply type, as save and -L print it.</summary>
    public string WithName => s_types[(int)With]!.Value.Name;

    public override void Parse(OptionDef option, string? arg, bool invert, RuleContext ctx)
    {
        // A case-insensitive prefix of a name or an alias; the first entry that fits wins.
        for (int i = 0; i < s_types.Length; i++)
        {
            if (s_types[i] is not { } t) continue;
            if (IsPrefix(arg!, t.Name) || IsPrefix(arg!, t.Alias))
            {
                With = (Reject6With)i;
                return;
            }
        }
        throw Xt.Param($"unknown reject type \"{arg}\"");
    }

    private static bool IsPrefix(string arg, string name) =>
        arg.Length <= name.Length && string.Compare(name, 0, arg, 0, arg.Length, StringComparison.OrdinalIgnoreCase) == 0;

    /// <summary>
    /// ip6t_REJECT: registered for the filter table and the INPUT, FORWARD and OUTPUT hooks;
    /// a TCP reset needs <c>-p tcp</c> without inversion.
    /// </summary>
    public override string? CheckEntry(KernelCheckContext ctx)
    {
        if (ctx.Table != "filter") return "Invalid argument";
        if ((ctx.Hooks & ~(HookMask.Input | HookMask.Forward | HookMask.Output)) != 0) return "Invalid argument";
        if (With == Reject6With.TcpReset && (ctx.Header.Protocol != 6 || ctx.Header.InvertProtocol))
            return "Invalid argument";
        return null;
    }

    public override void Save(StringBuilder sb) => sb.Append(" --reject-with ").Append(WithName);

    public override void Print(StringBuilder sb, bool numeric) => sb.Append(" reject-with ").Append(WithName);
}
