using System.Text;
using SharpTables.Rules.Model;

namespace SharpTables.Rules.Extensions.Reject;

/// <summary>The reply REJECT sends (the kernel's enum ipt_reject_with; the numbers are ABI).</summary>
public enum RejectWith : byte
{
    IcmpNetUnreachable = 0,
    IcmpHostUnreachable = 1,
    IcmpProtoUnreachable = 2,
    IcmpPortUnreachable = 3,
    /// <summary>No longer accepted by iptables or the kernel; kept for the numbering.</summary>
    IcmpEchoReply = 4,
    IcmpNetProhibited = 5,
    IcmpHostProhibited = 6,
    TcpReset = 7,
    IcmpAdminProhibited = 8,
}

/// <summary><c>-j REJECT</c> (libipt_REJECT / ipt_REJECT): drop the packet and answer it.</summary>
public sealed class RejectExtension : TargetExtension
{
    public override string Name => "REJECT";

    public override IReadOnlyList<OptionDef> Options { get; } = [new("reject-with")];

    // The IPv6 REJECT has its own reply types (Reject6Extension).
    public override bool Supports(Family family) => family == Family.IPv4;

    public override TargetInstance Create() => new RejectTarget(this);
}

public sealed class RejectTarget(RejectExtension ext) : TargetInstance
{
    /// <summary>Names and aliases in the order iptables tries them (index = <see cref="RejectWith"/>).</summary>
    private static readonly (string Name, string Alias)?[] s_types =
    [
        ("icmp-net-unreachable", "net-unreach"),
        ("icmp-host-unreachable", "host-unreach"),
        ("icmp-proto-unreachable", "proto-unreach"),
        ("icmp-port-unreachable", "port-unreach"),
        null, // echo-reply
        ("icmp-net-prohibited", "net-prohib"),
        ("icmp-host-prohibited", "host-prohib"),
        ("tcp-reset", "tcp-rst"),
        ("icmp-admin-prohibited", "admin-prohib"),
    ];

    public override Extension Extension => ext;

    /// <summary>The reply type; ICMP port unreachable unless <c>--reject-with</c> says otherwise.</summary>
    public RejectWith With { get; private set; } = RejectWith.IcmpPortUnreachable;

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
                With = (RejectWith)i;
                return;
            }
        }
        if (IsPrefix(arg!, "echo-reply") || IsPrefix(arg!, "echoreply"))
            Xt.Warn("--reject-with echo-reply no longer supported");
        throw Xt.Param($"unknown reject type \"{arg}\"");
    }

    private static bool IsPrefix(string arg, string name) =>
        arg.Length <= name.Length && string.Compare(name, 0, arg, 0, arg.Length, StringComparison.OrdinalIgnoreCase) == 0;

    /// <summary>
    /// ipt_REJECT: registered for the filter table and the INPUT, FORWARD and OUTPUT hooks;
    /// a TCP reset needs <c>-p tcp</c> without inversion.
    /// </summary>
    public override string? CheckEntry(KernelCheckContext ctx)
    {
        if (ctx.Table != "filter") return "Invalid argument";
        if ((ctx.Hooks & ~(HookMask.Input | HookMask.Forward | HookMask.Output)) != 0) return "Invalid argument";
        if (With == RejectWith.TcpReset && (ctx.Header.Protocol != 6 || ctx.Header.InvertProtocol))
            return "Invalid argument";
        return null;
    }

    public override void Save(StringBuilder sb) => sb.Append(" --reject-with ").Append(WithName);

    public override void Print(StringBuilder sb, bool numeric) => sb.Append(" reject-with ").Append(WithName);
}
