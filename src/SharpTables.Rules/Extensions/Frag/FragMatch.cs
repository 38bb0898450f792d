using System.Text;
using SharpTables.Rules.Extensions.XtOpt;
using SharpTables.Rules.Model;

namespace SharpTables.Rules.Extensions.Frag;

/// <summary>ip6t_frag's flags: which fields of the fragment header the rule tests.</summary>
[Flags]
public enum FragFlags : byte
{
    None = 0,
    /// <summary>IP6T_FRAG_IDS: <c>--fragid</c> (the kernel always tests the id range).</summary>
    Ids = 0x01,
    /// <summary>IP6T_FRAG_LEN: <c>--fraglen</c> (stored, but not tested by the kernel).</summary>
    Length = 0x02,
    /// <summary>IP6T_FRAG_RES: the reserved fields must be zero.</summary>
    Reserved = 0x04,
    /// <summary>IP6T_FRAG_FST: the first fragment (offset 0).</summary>
    First = 0x08,
    /// <summary>IP6T_FRAG_MF: more fragments follow.</summary>
    More = 0x10,
    /// <summary>IP6T_FRAG_NMF: the last fragment.</summary>
    Last = 0x20,
}

/// <summary><c>-m frag</c> (libip6t_frag / ip6t_frag): the IPv6 fragment header, which ip6tables offers instead of <c>-f</c>.</summary>
public sealed class FragExtension : XtOptMatchExtension
{
    public override string Name => "frag";

    public override bool Supports(Family family) => family == Family.IPv6;

    internal const int OId = 0, OLen = 1, ORes = 2, OFirst = 3, OMore = 4, OLast = 5;

    public override IReadOnlyList<XtEntry> Entries { get; } =
    [
        new("fragid", OId) { Invert = true },
        new("fraglen", OLen) { Invert = true },
        new("fragres", ORes, HasArg: false),
        new("fragfirst", OFirst, HasArg: false),
        new("fragmore", OMore, HasArg: false) { Excl = 1 << OLast },
        new("fraglast", OLast, HasArg: false) { Excl = 1 << OMore },
    ];

    public override MatchInstance Create() => new FragMatch(this);
}

public sealed class FragMatch(FragExtension ext) : XtOptMatch
{
    public override Extension Extension => ext;

    public FragFlags Flags { get; private set; }
    /// <summary>The identification range (inclusive); 0 to 2^32-1 unless <c>--fragid</c> says otherwise.</summary>
    public uint IdMin { get; private set; }
    public uint IdMax { get; private set; } = uint.MaxValue;
    public bool InvertIds { get; private set; }
    /// <summary>The header length of <c>--fraglen</c>.</summary>
    public uint HeaderLength { get; private set; }
    public bool InvertLength { get; private set; }

    protected override void ParseEntry(XtEntry entry, string arg, bool invert, RuleContext ctx)
    {
        switch (entry.Id)
        {
            case FragExtension.OId:
            {
                var v = XtNum.ParseRange("frag", entry.Name, arg, uint.MaxValue);
                IdMin = (uint)v[0];
                IdMax = (uint)(v.Count >= 2 ? v[1] : v[0]);
                InvertIds |= invert;
                Flags |= FragFlags.Ids;
                break;
            }
            case FragExtension.OLen:
                HeaderLength = (uint)XtInt.Parse("frag", entry.Name, arg, 0, uint.MaxValue);
                InvertLength |= invert;
                Flags |= FragFlags.Length;
                break;
            case FragExtension.ORes: Flags |= FragFlags.Reserved; break;
            case FragExtension.OFirst: Flags |= FragFlags.First; break;
            case FragExtension.OMore: Flags |= FragFlags.More; break;
            case FragExtension.OLast: Flags |= FragFlags.Last; break;
        }
    }

    public override void Save(StringBuilder sb)
    {
        if (IdMin != 0 || IdMax != uint.MaxValue)
        {
            sb.Append(InvertIds ? " ! --fragid " : " --fragid ").Append(IdMin);
            if (IdMin != IdMax) sb.Append(':').Append(IdMax);
        }
        if ((Flags & FragFlags.Length) != 0) sb.Append(InvertLength ? " ! --fraglen " : " --fraglen ").Append(HeaderLength);
        if ((Flags & FragFlags.Reserved) != 0) sb.Append(" --fragres");
        if ((Flags & FragFlags.First) != 0) sb.Append(" --fragfirst");
        if ((Flags & FragFlags.More) != 0) sb.Append(" --fragmore");
        if ((Flags & FragFlags.Last) != 0) sb.Append(" --fraglast");
    }

    /// <summary>frag_print: " frag " then the fields, each with a leading space (so "frag  more").</summary>
    public override void Print(StringBuilder sb, bool numeric)
    {
        sb.Append(" frag ");
        if (IdMin != 0 || IdMax != uint.MaxValue || InvertIds)
        {
            string inv = InvertIds ? "!" : "";
            if (IdMin == IdMax) sb.Append("id:").Append(inv).Append(IdMin);
            else sb.Append("ids:").Append(inv).Append(IdMin).Append(':').Append(IdMax);
        }
        if ((Flags & FragFlags.Length) != 0) sb.Append(" length:").Append(InvertLength ? "!" : "").Append(HeaderLength);
        if ((Flags & FragFlags.Reserved) != 0) sb.Append(" reserved");
        if ((Flags & FragFlags.First) != 0) sb.Append(" first");
        if ((Flags & FragFlags.More) != 0) sb.Append(" more");
        if ((Flags & FragFlags.Last) != 0) sb.Append(" last");
    }
}
