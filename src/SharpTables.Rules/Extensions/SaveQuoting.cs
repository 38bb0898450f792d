using System.Text;

namespace SharpTables.Rules.Extensions;

/// <summary>
/// How iptables-save writes free-text option values such as log prefixes and comments
/// (libxtables' xtables_save_string): a value made only of letters, digits, '_' and '-' is
/// written bare; anything else (including the empty string) goes in double quotes, with
/// <c>"</c>, <c>'</c> and <c>\</c> escaped by a backslash and every other character as is.
/// </summary>
public static class SaveQuoting
{
    /// <summary>The value as iptables-save writes it (without the leading space).</summary>
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
        sb.Append('"');
        return sb.ToString();
    }

    private static bool IsBare(char c) => char.IsAsciiLetterOrDigit(c) || c is '_' or '-';
}
