using SharpTables.Rules.Extensions.Hl;
using SharpTables.Rules.Extensions.Ttl;

namespace SharpTables.Engine.Targets;

/// <summary><c>-j HL</c> (xt_HL's hl_tg6): set, or add/subtract saturating, the IPv6 hop limit (no header checksum to fix).</summary>
public sealed class HlTargetCompiler : TargetCompiler<HlTarget>
{
    protected override CompiledTarget Compile(HlTarget t, CompileContext ctx) => new Compiled(t.Mode, t.Value);

    private sealed class Compiled(TtlTargetMode mode, byte value) : CompiledTarget
    {
        private const int HopLimitOffset = 7;

        public override TargetVerdict Execute(Packet p, in TargetContext ctx)
        {
            if (!p.Info.IsIPv6) return TargetVerdict.Continue;
            byte hl = p.Info.Ttl;
            int nv = mode switch
            {
                TtlTargetMode.Set => value,
                TtlTargetMode.Increment => Math.Min(255, hl + value),
                _ => Math.Max(0, hl - value),
            };
            p.WritableBytes[HopLimitOffset] = (byte)nv;
            p.Info.Ttl = (byte)nv;
            return TargetVerdict.Continue;
        }
    }
}
