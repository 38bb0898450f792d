using SharpTables.Rules.Extensions.Ct;

namespace SharpTables.Engine.Targets;

/// <summary>
/// <c>-j CT</c> and <c>-j NOTRACK</c> (xt_CT, raw table). A packet that already carries conntrack
/// information (looped back, or an earlier CT rule) is left alone; otherwise <c>--notrack</c>
/// makes it untracked and a zone is recorded in <see cref="Packet.Zone"/> for conntrack to use
/// (<c>--zone mark</c> takes the packet mark now; the kernel reads it when conntrack runs, right
/// after raw). <c>--helper ftp</c> attaches the FTP helper to the connection the packet starts
/// (<see cref="Conntrack.FtpHelper"/>); the other helpers, the zone direction flags, timeout policies
/// and event masks are accepted and ignored. As the kernel's attached template, the first CT rule a
/// packet meets is the only one that acts on it.
/// </summary>
public sealed class CtTargetCompiler : TargetCompiler<CtTarget>
{
    protected override CompiledTarget Compile(CtTarget t, CompileContext ctx) =>
        new Compiled(t.NoTrack, t.Zone, (t.Flags & CtFlags.ZoneMark) != 0, t.Helper);

    private sealed class Compiled(bool notrack, ushort zone, bool zoneFromMark, string helper) : CompiledTarget
    {
        public override TargetVerdict Execute(Packet p, in TargetContext ctx)
        {
            if (p.Conn != null || p.Untracked || p.CtTemplate) return TargetVerdict.Continue;
            p.CtTemplate = true;
            if (notrack) p.Untracked = true;
            else
            {
                p.Zone = zoneFromMark ? (ushort)p.Mark : zone;
                if (helper.Length > 0) p.CtHelper = Conntrack.ConnHelper.Implemented(helper, p.Info.Protocol);
            }
            return TargetVerdict.Continue;
        }
    }
}
