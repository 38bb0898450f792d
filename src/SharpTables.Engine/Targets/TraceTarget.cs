using SharpTables.Rules.Extensions.Trace;

namespace SharpTables.Engine.Targets;

/// <summary><c>-j TRACE</c>: iptables-nft emits <c>meta nftrace set 1</c>, which flags the packet and continues.</summary>
public sealed class TraceTargetCompiler : TargetCompiler<TraceTarget>
{
    protected override CompiledTarget Compile(TraceTarget t, CompileContext ctx) => Compiled.Instance;

    private sealed class Compiled : CompiledTarget
    {
        public static readonly Compiled Instance = new();

        public override TargetVerdict Execute(Packet p, in TargetContext ctx)
        {
            p.Trace = true;
            return TargetVerdict.Continue;
        }
    }
}
