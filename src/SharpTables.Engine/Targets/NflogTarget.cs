using SharpTables.Rules.Extensions.Nflog;

namespace SharpTables.Engine.Targets;

/// <summary>
/// <c>-j NFLOG</c>: iptables-nft emits nftables' native <c>log group N prefix P</c>, which hands
/// the packet to the log group (here: <see cref="IEngineObserver.OnNflog"/>) and continues.
/// </summary>
public sealed class NflogTargetCompiler : TargetCompiler<NflogTarget>
{
    protected override CompiledTarget Compile(NflogTarget t, CompileContext ctx) => new Compiled(t.Group, t.Prefix);

    private sealed class Compiled(ushort group, string prefix) : CompiledTarget
    {
        public override TargetVerdict Execute(Packet p, in TargetContext ctx)
        {
            ctx.State.Observer.OnNflog(new NflogRecord(group, prefix, p.Hook, p.Number));
            return TargetVerdict.Continue;
        }
    }
}
