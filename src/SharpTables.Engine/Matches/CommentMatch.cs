using SharpTables.Rules.Extensions.Comment;

namespace SharpTables.Engine.Matches;

/// <summary><c>-m comment</c> (xt_comment): always matches; the text is only for listings.</summary>
public sealed class CommentMatchCompiler : MatchCompiler<CommentMatch>
{
    protected override CompiledMatch Compile(CommentMatch m, CompileContext ctx) => Always.Instance;

    private sealed class Always : CompiledMatch
    {
        public static readonly Always Instance = new();

        public override bool Matches(Packet p, ref bool hotdrop) => true;
    }
}
