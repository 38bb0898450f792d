using SharpTables.Rules.Extensions.Tos;

namespace SharpTables.Engine.Targets;

/// <summary>
/// <c>-j TOS</c> revision 1 (xt_DSCP's tos_tg/tos_tg6): tos = (tos &amp; ~mask) ^ value, written
/// (with the IPv4 checksum fixed) only when it changes.
/// </summary>
public sealed class TosTargetCompiler : TargetCompiler<TosTarget>
{
    protected override CompiledTarget Compile(TosTarget t, CompileContext ctx) => new Compiled(t.Value, t.Mask);

    private sealed class Compiled(byte value, byte mask) : CompiledTarget
    {
        public override TargetVerdict Execute(Packet p, in TargetContext ctx)
        {
            byte orig = p.Info.Tos;
            byte nv = (byte)((orig & ~mask) ^ value);
            if (!IpChecksum.HasIpHeader(p) || nv == orig) return TargetVerdict.Continue;
            var header = p.WritableBytes;
            if (p.Info.IsIPv6) IpChecksum.ChangeIpv6DsField(header, 0, nv);
            else IpChecksum.ChangeIpv4DsField(header, 0, nv);
            p.Reparse();
            return TargetVerdict.Continue;
        }
    }
}
