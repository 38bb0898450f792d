using SharpTables.Rules.Extensions.Dscp;

namespace SharpTables.Engine.Targets;

/// <summary>
/// <c>-j DSCP</c> (xt_DSCP's dscp_tg/dscp_tg6): when the code point differs, rewrite the upper
/// six bits of the TOS byte (traffic class), keeping the ECN bits, and fix the IPv4 checksum.
/// </summary>
public sealed class DscpTargetCompiler : TargetCompiler<DscpTarget>
{
    protected override CompiledTarget Compile(DscpTarget t, CompileContext ctx) => new Compiled(t.Value);

    private sealed class Compiled(byte dscp) : CompiledTarget
    {
        private const byte EcnMask = 0x03;

        public override TargetVerdict Execute(Packet p, in TargetContext ctx)
        {
            if (!IpChecksum.HasIpHeader(p) || p.Info.Tos >> 2 == dscp) return TargetVerdict.Continue;
            var header = p.WritableBytes;
            if (p.Info.IsIPv6) IpChecksum.ChangeIpv6DsField(header, EcnMask, (byte)(dscp << 2));
            else IpChecksum.ChangeIpv4DsField(header, EcnMask, (byte)(dscp << 2));
            p.Reparse();
            return TargetVerdict.Continue;
        }
    }
}
