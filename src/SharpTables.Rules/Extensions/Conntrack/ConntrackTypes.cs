using System.Text;

namespace SharpTables.Rules.Extensions.Conntrack;

/// <summary>
/// Connection states as xt_conntrack's <c>state_mask</c> bits: bit 0 INVALID, then
/// XT_CONNTRACK_STATE_BIT(ctinfo) = 1 &lt;&lt; (ctinfo % IP_CT_IS_REPLY + 1) for ESTABLISHED (0),
/// RELATED (1) and NEW (2), then SNAT, DNAT and UNTRACKED after IP_CT_NUMBER.
/// </summary>
[Flags]
public enum ConntrackStates : ushort
{
    None = 0,
    Invalid = 1 << 0,
    Established = 1 << 1,
    Related = 1 << 2,
    New = 1 << 3,
    Snat = 1 << 6,
    Dnat = 1 << 7,
    Untracked = 1 << 8,
}

/// <summary>Conntrack status bits (IPS_*) that <c>--ctstatus</c> can name.</summary>
[Flags]
public enum ConntrackStatus : ushort
{
    None = 0,
    Expected = 1 << 0,
    SeenReply = 1 << 1,
    Assured = 1 << 2,
    Confirmed = 1 << 3,
}

/// <summary>xt_conntrack's match_flags / invert_flags.</summary>
[Flags]
public enum ConntrackFlags : ushort
{
    None = 0,
    State = 1 << 0,
    Proto = 1 << 1,
    OrigSrc = 1 << 2,
    OrigDst = 1 << 3,
    ReplSrc = 1 << 4,
    ReplDst = 1 << 5,
    Status = 1 << 6,
    Expires = 1 << 7,
    OrigSrcPort = 1 << 8,
    OrigDstPort = 1 << 9,
    ReplSrcPort = 1 << 10,
    ReplDstPort = 1 << 11,
    Direction = 1 << 12,
    StateAlias = 1 << 13,
}

/// <summary>State and status names shared by the conntrack and state matches.</summary>
public static class ConntrackNames
{
    /// <summary>Names in the order libxt_conntrack's parsers try them (case-insensitive prefixes).</summary>
    private static readonly (string Name, ConntrackStates State)[] s_parseOrder =
    [
        ("INVALID", ConntrackStates.Invalid), ("NEW", ConntrackStates.New),
        ("ESTABLISHED", ConntrackStates.Established), ("RELATED", ConntrackStates.Related),
        ("UNTRACKED", ConntrackStates.Untracked), ("SNAT", ConntrackStates.Snat), ("DNAT", ConntrackStates.Dnat),
    ];

    /// <summary>Names in the order print_state prints them.</summary>
    private static readonly (string Name, ConntrackStates State)[] s_printOrder =
    [
        ("INVALID", ConntrackStates.Invalid), ("NEW", ConntrackStates.New), ("RELATED", ConntrackStates.Related),
        ("ESTABLISHED", ConntrackStates.Established), ("UNTRACKED", ConntrackStates.Untracked),
        ("SNAT", ConntrackStates.Snat), ("DNAT", ConntrackStates.Dnat),
    ];

    private static readonly (string Name, ConntrackStatus Status)[] s_statusParseOrder =
    [
        ("NONE", ConntrackStatus.None), ("EXPECTED", ConntrackStatus.Expected), ("SEEN_REPLY", ConntrackStatus.SeenReply),
        ("ASSURED", ConntrackStatus.Assured), ("CONFIRMED", ConntrackStatus.Confirmed),
    ];

    /// <summary>strncasecmp(word, name, strlen(word)) == 0.</summary>
    private static bool IsPrefix(string word, string name) =>
        word.Length <= name.Length && name.StartsWith(word, StringComparison.OrdinalIgnoreCase);

    /// <summary>One state word; <paramref name="withNat"/> admits SNAT and DNAT (conntrack, not state).</summary>
    public static ConntrackStates? ParseState(string word, bool withNat)
    {
        foreach (var (name, state) in s_parseOrder)
        {
            if (!withNat && state is ConntrackStates.Snat or ConntrackStates.Dnat) continue;
            if (IsPrefix(word, name)) return state;
        }
        return null;
    }

    public static ConntrackStatus? ParseStatus(string word)
    {
        foreach (var (name, status) in s_statusParseOrder)
            if (IsPrefix(word, name)) return status;
        return null;
    }

    /// <summary>print_state: " NAME,NAME" (leading space).</summary>
    public static void AppendStates(StringBuilder sb, ConntrackStates states)
    {
        char sep = ' ';
        foreach (var (name, state) in s_printOrder)
        {
            if ((states & state) == 0) continue;
            sb.Append(sep).Append(name);
            sep = ',';
        }
    }

    /// <summary>print_status: " NAME,NAME" or " NONE" (leading space).</summary>
    public static void AppendStatus(StringBuilder sb, ConntrackStatus status)
    {
        char sep = ' ';
        foreach (var (name, s) in s_statusParseOrder[1..])
        {
            if ((status & s) == 0) continue;
            sb.Append(sep).Append(name);
            sep = ',';
        }
        if (status == 0) sb.Append(sep).Append("NONE");
    }
}
