using System.Text;
using SharpTables.Rules.Extensions.XtOpt;
using SharpTables.Rules.Model;

namespace SharpTables.Rules.Extensions.Tcpmss;

/// <summary>
/// <c>-j TCPMSS</c> (libxt_TCPMSS / xt_TCPMSS): rewrite the MSS option of TCP SYN packets, either
/// to a fixed value or to the path MTU minus the IP and TCP headers.
/// </summary>
public sealed class TcpmssExtension : TargetExtension
{
    public override string Name => "TCPMSS";

    public override IReadOnlyList<OptionDef> Options { get; } =
    [
        new("set-mss"),
        new("clamp-mss-to-pmtu", ArgKind.None),
    ];

    public override TargetInstance Create() => new TcpmssTarget(this);
}

public sealed class TcpmssTarget(TcpmssExtension ext) : TargetInstance
{
    /// <summary>XT_TCPMSS_CLAMP_PMTU: the value of the kernel's mss field that means "clamp to PMTU".</summary>
    public const ushort ClampPmtu = 0xFFFF;

    public override Extension Extension => ext;

    /// <summary>
    /// The kernel's <c>mss</c> field: the MSS to write, or <see cref="ClampPmtu"/>. The options
    /// do not exclude each other; the last one given decides.
    /// </summary>
    public ushort Mss { get; private set; }

    /// <summary>Clamp the MSS to the route's MTU minus the headers (instead of a fixed value).</summary>
    public bool ClampToPmtu => Mss == ClampPmtu;

    public override void Parse(OptionDef option, string? arg, bool invert, RuleContext ctx)
    {
        if (option.Name == "clamp-mss-to-pmtu")
        {
            Mss = ClampPmtu;
            return;
        }
        // 65535 minus the size of the IP header (struct iphdr or ipv6hdr).
        ulong max = ctx.Family == Family.IPv6 ? 65535u - 40 : 65535u - 20;
        Mss = (ushort)XtInt.Parse("TCPMSS", option.Name, arg, 0, max);
    }

    public override void FinalCheck(RuleContext ctx)
    {
        if (SeenCount == 0) throw Xt.Param("TCPMSS target: At least one parameter is required");
    }

    /// <summary>
    /// xt_TCPMSS: registered for TCP only (<c>-p tcp</c>, not inverted), in any table; clamping
    /// needs a route, so its checkentry allows it only from FORWARD, OUTPUT and POSTROUTING. Under
    /// nf_tables that checkentry sees only the hook of the built-in chain the rule is added to,
    /// so a clamping rule in a user chain passes wherever it is jumped to from, and the SYN-match
    /// requirement of the legacy kernel path is skipped.
    /// </summary>
    public override string? CheckEntry(KernelCheckContext ctx)
    {
        if (ctx.Header.Protocol != 6 || ctx.Header.InvertProtocol) return "Invalid argument";
        if (ClampToPmtu && (ctx.CheckEntryHooks & ~(HookMask.Forward | HookMask.Output | HookMask.PostRouting)) != 0)
            return "Invalid argument";
        return null;
    }

    public override void Save(StringBuilder sb)
    {
        if (ClampToPmtu) sb.Append(" --clamp-mss-to-pmtu");
        else sb.Append(" --set-mss ").Append(Mss);
    }

    public override void Print(StringBuilder sb, bool numeric)
    {
        if (ClampToPmtu) sb.Append(" TCPMSS clamp to PMTU");
        else sb.Append(" TCPMSS set ").Append(Mss);
    }
}
