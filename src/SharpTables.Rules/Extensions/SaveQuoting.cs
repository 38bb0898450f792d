using System.Text;

namespace SharpTables.Rules.Extensions;

/// <summary>
/// libxtables' <c>xtables_save_string</c>, the way iptables-save writes free-text option values
/// (comments, log prefixes): bare when the value is non-empty and made only of
/// <c>[A-Za-z0-9_-]</c>, otherwise in double quotes with <c>"</c>, <c>'</c> and <c>\</c> escaped
/// by a backslash.
/// </summary>
public static class SaveQuoting
{
    /// <summary>The value as one save-format word, without a leading space.</summary>
    public static string Quote(string value)
    {
        if (value.Length > 0 && value.All(IsBare)) return value;
        var sb = new StringBuilder(value.Length + 4);
        sb.Append('"');
        foreach (char c in value)
        {
            if (c is '"' or '\'' or '\\') sb.Append('\\');
            sb.Append(c);
        }
        return sb.Append('"').ToString();
    }

    private static bool IsBare(char c) => c is '_' or '-' || char.IsAsciiLetterOrDigit(c);
}
