using SharpTables.Rules.Extensions.Mark;

namespace SharpTables.Engine.Targets;

/// <summary><c>-j MARK</c> (xt_mark's mark_tg, revision 2): mark = (mark &amp; ~mask) ^ value; continues.</summary>
public sealed class MarkTargetCompiler : TargetCompiler<MarkTarget>
{
    protected override CompiledTarget Compile(MarkTarget t, CompileContext ctx) => new Compiled(t.Value, t.Mask);

    private sealed class Compiled(uint value, uint mask) : CompiledTarget
    {
        public override TargetVerdict Execute(Packet p, in TargetContext ctx)
        {
            p.Mark = (p.Mark & ~mask) ^ value;
            return TargetVerdict.Continue;
        }
    }
}
