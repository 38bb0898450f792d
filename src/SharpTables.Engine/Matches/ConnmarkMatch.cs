using SharpTables.Rules.Extensions.Connmark;

namespace SharpTables.Engine.Matches;

/// <summary>
/// <c>-m connmark</c> (xt_connmark's connmark_mt): (ct mark &amp; mask) == value. A packet without
/// a connection (invalid or untracked) never matches, inverted or not.
/// </summary>
public sealed class ConnmarkMatchCompiler : MatchCompiler<ConnmarkMatch>
{
    protected override CompiledMatch Compile(ConnmarkMatch m, CompileContext ctx) => new Compiled(m.Value, m.Mask, m.Invert);

    private sealed class Compiled(uint value, uint mask, bool invert) : CompiledMatch
    {
        public override bool Matches(Packet p, ref bool hotdrop)
        {
            var ct = p.Untracked ? null : p.Conn;
            return ct != null && (((ct.Mark & mask) == value) ^ invert);
        }
    }
}
