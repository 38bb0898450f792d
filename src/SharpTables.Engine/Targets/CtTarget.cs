using SharpTables.Rules.Extensions.Ct;

namespace SharpTables.Engine.Targets;

/// <summary>
/// <c>-j CT</c> and <c>-j NOTRACK</c> (xt_CT, raw table). A packet that already carries conntrack
/// information (looped back, or an earlier CT rule) is left alone; otherwise <c>--notrack</c>
/// makes it untracked and a zone is recorded in <see cref="Packet.Zone"/> for conntrack to use
/// (<c>--zone mark</c> takes the packet mark now; the kernel reads it when conntrack runs, right
/// after raw). The zone direction flags, helpers, timeout policies and event masks are accepted
/// and ignored: SharpTables' conntrack has no helpers, policies or event listeners.
/// An earlier CT rule that set only a helper or events is not remembered, so it does not stop a
/// later NOTRACK as the kernel's attached template would.
/// </summary>
public sealed class CtTargetCompiler : TargetCompiler<CtTarget>
{
    protected override CompiledTarget Compile(CtTarget t, CompileContext ctx) =>
        new Compiled(t.NoTrack, t.Zone, (t.Flags & CtFlags.ZoneMark) != 0);

    private sealed class Compiled(bool notrack, ushort zone, bool zoneFromMark) : CompiledTarget
    {
        public override TargetVerdict Execute(Packet p, in TargetContext ctx)
        {
            if (p.Conn != null || p.Untracked || p.Zone != 0) return TargetVerdict.Continue;
            if (notrack) p.Untracked = true;
            else p.Zone = zoneFromMark ? (ushort)p.Mark : zone;
            return TargetVerdict.Continue;
        }
    }
}
