using SharpTables.Rules.Extensions.Ttl;

namespace SharpTables.Engine.Targets;

/// <summary>
/// <c>-j TTL</c> (xt_HL's ttl_tg): set, or add/subtract saturating at 255/0; the header
/// checksum is updated with csum_replace2 on the TTL/protocol word when the TTL changes.
/// </summary>
public sealed class TtlTargetCompiler : TargetCompiler<TtlTarget>
{
    protected override CompiledTarget Compile(TtlTarget t, CompileContext ctx) => new Compiled(t.Mode, t.Value);

    private sealed class Compiled(TtlTargetMode mode, byte value) : CompiledTarget
    {
        private const int TtlOffset = 8;

        public override TargetVerdict Execute(Packet p, in TargetContext ctx)
        {
            byte ttl = p.Info.Ttl;
            int nv = mode switch
            {
                TtlTargetMode.Set => value,
                TtlTargetMode.Increment => Math.Min(255, ttl + value),
                _ => Math.Max(0, ttl - value),
            };
            if (!p.Info.IsIPv4 || !IpChecksum.HasIpHeader(p) || nv == ttl) return TargetVerdict.Continue;
            var header = p.WritableBytes;
            Conntrack.Checksum.Replace2(header[IpChecksum.Ipv4ChecksumOffset..], (ushort)(ttl << 8), (ushort)(nv << 8));
            header[TtlOffset] = (byte)nv;
            p.Reparse();
            return TargetVerdict.Continue;
        }
    }
}
