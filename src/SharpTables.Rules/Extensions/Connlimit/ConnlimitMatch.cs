using System.Numerics;
using System.Text;
using SharpTables.Rules.Extensions.XtOpt;
using SharpTables.Rules.Model;
using SharpTables.Rules.Parsing;

namespace SharpTables.Rules.Extensions.Connlimit;

/// <summary><c>-m connlimit</c> (libxt_connlimit revision 1 / xt_connlimit_info).</summary>
public sealed class ConnlimitExtension : XtOptMatchExtension
{
    public override string Name => "connlimit";

    internal const int OUpto = 0, OAbove = 1, OMask = 2, OSaddr = 3, ODaddr = 4;

    public override IReadOnlyList<XtEntry> Entries { get; } =
    [
        new("connlimit-upto", OUpto) { Excl = 1 << OAbove, Invert = true },
        new("connlimit-above", OAbove) { Excl = 1 << OUpto, Invert = true },
        new("connlimit-mask", OMask),
        new("connlimit-saddr", OSaddr, HasArg: false) { Excl = 1 << ODaddr },
        new("connlimit-daddr", ODaddr, HasArg: false) { Excl = 1 << OSaddr },
    ];

    public override MatchInstance Create() => new ConnlimitMatch(this);
}

public sealed class ConnlimitMatch(ConnlimitExtension ext) : XtOptMatch
{
    public override Extension Extension => ext;

    /// <summary>The connection count compared against.</summary>
    public uint Limit { get; private set; }
    /// <summary>XT_CONNLIMIT_INVERT: true matches when the count is at most <see cref="Limit"/> (upto), false when above it.</summary>
    public bool UpTo { get; private set; }
    /// <summary>XT_CONNLIMIT_DADDR: group by destination instead of source address.</summary>
    public bool ByDestination { get; private set; }
    /// <summary>Grouping mask applied to the address (IPv4: the low 32 bits of <see cref="Mask128"/>).</summary>
    public uint Mask => (uint)Mask128;
    /// <summary>The grouping mask at full width (an IPv6 mask, or an IPv4 one in the low 32 bits).</summary>
    public UInt128 Mask128 { get; private set; } = UInt128.MaxValue;

    protected override void ParseEntry(XtEntry entry, string arg, bool invert, RuleContext ctx)
    {
        switch (entry.Id)
        {
            case ConnlimitExtension.OUpto:
            case ConnlimitExtension.OAbove:
                if (!XtNum.StrToUL(arg, out ulong v, 0, uint.MaxValue))
                    throw Xt.BadValue("connlimit", entry.Name, 0, uint.MaxValue);
                Limit = (uint)v;
                // --connlimit-upto sets the invert flag unless negated; --connlimit-above only when negated.
                if ((entry.Id == ConnlimitExtension.OUpto) != invert) UpTo = true;
                break;
            case ConnlimitExtension.OMask:
                Mask128 = XtHost.MaskOf(XtHost.ParsePlen("connlimit", entry.Name, arg, Family), Family);
                break;
            case ConnlimitExtension.OSaddr:
                ByDestination = false;
                break;
            case ConnlimitExtension.ODaddr:
                ByDestination = true;
                break;
        }
    }

    protected override void Check(RuleContext ctx)
    {
        if ((XFlags & (1 << ConnlimitExtension.OUpto | 1 << ConnlimitExtension.OAbove)) == 0)
            throw Xt.Param("You must specify \"--connlimit-above\" or \"--connlimit-upto\".");
    }

    /// <summary>count_bits4 (32 minus the position of the highest zero bit of the mask) or count_bits6.</summary>
    public int PrefixLength => Family == Family.IPv6
        ? Ipv6Text.CountBits(Mask128)
        : 32 - (32 - BitOperations.LeadingZeroCount(~Mask));

    public override void Save(StringBuilder sb)
    {
        sb.Append(UpTo ? " --connlimit-upto " : " --connlimit-above ").Append(Limit);
        sb.Append(" --connlimit-mask ").Append(PrefixLength);
        sb.Append(ByDestination ? " --connlimit-daddr" : " --connlimit-saddr");
    }

    public override void Print(StringBuilder sb, bool numeric)
    {
        sb.Append(" #conn ").Append(ByDestination ? "dst" : "src").Append('/').Append(PrefixLength)
          .Append(UpTo ? " <= " : " > ").Append(Limit);
    }
}
