using System.Text;

namespace SharpTables.Rules.Extensions.Comment;

/// <summary><c>-m comment</c> (libxt_comment / xt_comment): a text that always matches.</summary>
public sealed class CommentExtension : MatchExtension
{
    public override string Name => "comment";

    public override IReadOnlyList<OptionDef> Options { get; } =
    [
        new("comment", ArgKind.Required) { Mandatory = true },
    ];

    public override MatchInstance Create() => new CommentMatch(this);
}

public sealed class CommentMatch(CommentExtension ext) : MatchInstance
{
    /// <summary>XT_MAX_COMMENT_LEN: the kernel keeps 256 bytes including the terminating NUL.</summary>
    public const int MaxBytes = 255;

    public override Extension Extension => ext;

    public string Text { get; private set; } = "";

    public override void Parse(OptionDef option, string? arg, bool invert, RuleContext ctx) =>
        Text = Truncate(arg!);

    /// <summary>Longer comments are silently cut to 255 bytes (xtopt's XTTYPE_STRING copy).</summary>
    private static string Truncate(string s)
    {
        if (Encoding.UTF8.GetByteCount(s) <= MaxBytes) return s;
        int n = 0, i = 0;
        while (i < s.Length)
        {
            int len = char.IsSurrogatePair(s, i) ? 2 : 1;
            int bytes = Encoding.UTF8.GetByteCount(s.AsSpan(i, len));
            if (n + bytes > MaxBytes) break;
            n += bytes;
            i += len;
        }
        return s[..i];
    }

    public override void Save(StringBuilder sb) => sb.Append(" --comment ").Append(SaveQuoting.Quote(Text));

    public override void Print(StringBuilder sb, bool numeric) => sb.Append(" /* ").Append(Text).Append(" */");
}
