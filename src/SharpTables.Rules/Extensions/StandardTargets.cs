using System.Text;

namespace SharpTables.Rules.Extensions;

/// <summary>The built-in verdicts ACCEPT, DROP, RETURN and QUEUE (xtables' "standard" target).</summary>
public sealed class VerdictTarget : TargetInstance
{
    public static readonly string[] Names = ["ACCEPT", "DROP", "RETURN", "QUEUE"];

    private VerdictTarget(string verdict) => Verdict = verdict;

    public static readonly VerdictTarget Accept = new("ACCEPT");
    public static readonly VerdictTarget Drop = new("DROP");
    public static readonly VerdictTarget Return = new("RETURN");
    public static readonly VerdictTarget Queue = new("QUEUE");

    public static VerdictTarget? Find(string name) => name switch
    {
        "ACCEPT" => Accept,
        "DROP" => Drop,
        "RETURN" => Return,
        "QUEUE" => Queue,
        _ => null,
    };

    public string Verdict { get; }
    public override Extension Extension => StandardExtension.Instance;
    public override string SaveName => Verdict;
    public override void Parse(OptionDef option, string? argument, bool invert, RuleContext ctx) { }

    /// <summary>
    /// iptables-nft sends QUEUE to the kernel as an xtables target named "QUEUE", which does not
    /// exist (the verdict is NFQUEUE's job there): every rule with <c>-j QUEUE</c> is refused.
    /// </summary>
    public override string? CheckEntry(KernelCheckContext ctx) =>
        Verdict == "QUEUE" ? "No such file or directory" : null;

    public override void Save(StringBuilder sb) { }
    public override void Print(StringBuilder sb, bool numeric) { }
}

/// <summary>A jump (<c>-j CHAIN</c>) or goto (<c>-g CHAIN</c>) to a user-defined chain.</summary>
public sealed class JumpTarget(string chain, bool isGoto) : TargetInstance
{
    public string Chain { get; } = chain;
    public bool IsGoto { get; } = isGoto;
    public override Extension Extension => StandardExtension.Instance;
    public override string SaveName => Chain;
    public override void Parse(OptionDef option, string? argument, bool invert, RuleContext ctx) { }
    public override void Save(StringBuilder sb) { }
    public override void Print(StringBuilder sb, bool numeric) { }
}

/// <summary>Placeholder extension object for built-in verdicts and jumps (not registered).</summary>
internal sealed class StandardExtension : Extension
{
    public static readonly StandardExtension Instance = new();
    private StandardExtension() { }
    public override string Name => "standard";
    public override IReadOnlyList<OptionDef> Options => [];
}
