using SharpTables.Rules.Extensions.Connmark;

namespace SharpTables.Engine.Targets;

/// <summary>
/// <c>-j CONNMARK</c> revision 2 (xt_connmark's connmark_tg_shift). Without a connection it
/// does nothing. Note the kernel's order: --set-* shifts the whole new ctmark, save/restore
/// shift only the copied bits before merging them.
/// </summary>
public sealed class ConnmarkTargetCompiler : TargetCompiler<ConnmarkTarget>
{
    protected override CompiledTarget Compile(ConnmarkTarget t, CompileContext ctx) =>
        new Compiled(t.Mode, t.CtMark, t.CtMask, t.NfMask, t.ShiftDirection == ConnmarkShift.Right, t.ShiftBits);

    private sealed class Compiled(ConnmarkMode mode, uint ctMark, uint ctMask, uint nfMask, bool right, byte bits) : CompiledTarget
    {
        // C shifts take the count modulo 32 on x86; checkentry refuses 32 anyway.
        private uint Shift(uint v) => right ? v >> bits : v << bits;

        public override TargetVerdict Execute(Packet p, in TargetContext ctx)
        {
            var ct = p.Untracked ? null : p.Conn;
            if (ct == null) return TargetVerdict.Continue;
            switch (mode)
            {
                case ConnmarkMode.Set:
                    ct.Mark = Shift((ct.Mark & ~ctMask) ^ ctMark);
                    break;
                case ConnmarkMode.Save:
                    ct.Mark = (ct.Mark & ~ctMask) ^ Shift(p.Mark & nfMask);
                    break;
                case ConnmarkMode.Restore:
                    p.Mark = (p.Mark & ~nfMask) ^ Shift(ct.Mark & ctMask);
                    break;
            }
            return TargetVerdict.Continue;
        }
    }
}
