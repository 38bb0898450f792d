using System.Text;
using SharpTables.Rules.Extensions.Conntrack;
using SharpTables.Rules.Extensions.XtOpt;
using SharpTables.Rules.Model;

namespace SharpTables.Rules.Extensions.State;

/// <summary>
/// <c>-m state</c> (libxt_conntrack's "state" alias): iptables-nft loads it as xt_conntrack
/// revision 3 with XT_CONNTRACK_STATE_ALIAS, so it lists back as <c>-m state --state ...</c>.
/// </summary>
public sealed class StateExtension : XtOptMatchExtension
{
    public override string Name => "state";

    public override IReadOnlyList<XtEntry> Entries { get; } =
    [
        new("state", 0) { Invert = true, Mandatory = true },
    ];

    public override MatchInstance Create() => new StateMatch(this);
}

public sealed class StateMatch(StateExtension ext) : XtOptMatch
{
    public override Extension Extension => ext;

    /// <summary>The states that match (xt_conntrack state_mask).</summary>
    public ConntrackStates States { get; private set; }

    /// <summary><c>! --state</c>: the packet's state must not be one of <see cref="States"/>.</summary>
    public bool Invert { get; private set; }

    protected override void ParseEntry(XtEntry entry, string arg, bool invert, RuleContext ctx)
    {
        States = ParseStates(arg);
        Invert = invert;
    }

    /// <summary>state_parse_states: comma-separated state words, no empty word, no trailing comma.</summary>
    private static ConntrackStates ParseStates(string arg)
    {
        var mask = ConntrackStates.None;
        int comma;
        while ((comma = arg.IndexOf(',')) >= 0)
        {
            if (comma == 0 || ConntrackNames.ParseState(arg[..comma], withNat: false) is not { } s)
                throw Xt.Param($"Bad state \"{arg}\"");
            mask |= s;
            arg = arg[(comma + 1)..];
        }
        if (arg.Length == 0)
            throw Xt.Param("\"--state\" requires a list of states with no spaces, e.g. ESTABLISHED,RELATED");
        if (ConntrackNames.ParseState(arg, withNat: false) is not { } last)
            throw Xt.Param($"Bad state \"{arg}\"");
        return mask | last;
    }

    public override void Save(StringBuilder sb)
    {
        if (Invert) sb.Append(" !");
        sb.Append(" --state");
        ConntrackNames.AppendStates(sb, States);
    }

    public override void Print(StringBuilder sb, bool numeric)
    {
        if (Invert) sb.Append(" !");
        sb.Append(" state");
        ConntrackNames.AppendStates(sb, States);
    }
}
