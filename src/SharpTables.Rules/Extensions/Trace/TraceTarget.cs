using System.Text;

namespace SharpTables.Rules.Extensions.Trace;

/// <summary><c>-j TRACE</c> (xt_TRACE): mark packets for rule tracing. No options.</summary>
public sealed class TraceExtension : TargetExtension
{
    public override string Name => "TRACE";
    public override IReadOnlyList<OptionDef> Options => [];
    public override TargetInstance Create() => new TraceTarget(this);
}

public sealed class TraceTarget(TraceExtension ext) : TargetInstance
{
    public override Extension Extension => ext;
    public override void Parse(OptionDef option, string? arg, bool invert, RuleContext ctx) { }
    public override void Save(StringBuilder sb) { }
    public override void Print(StringBuilder sb, bool numeric) { }
}
