using System.Runtime.CompilerServices;
using System.Text;
using SharpTables.Rules.Model;

namespace SharpTables.Rules.Extensions.Udp;

/// <summary><c>-m udp</c> (libxt_udp / xt_tcpudp): source and destination port ranges.</summary>
public sealed class UdpExtension : MatchExtension
{
    public override string Name => "udp";

    public override IReadOnlyList<OptionDef> Options { get; } =
    [
        new("source-port", ArgKind.Required, Invertible: true) { Id = "sport" },
        new("sport", ArgKind.Required, Invertible: true) { Id = "sport" },
        new("destination-port", ArgKind.Required, Invertible: true) { Id = "dport" },
        new("dport", ArgKind.Required, Invertible: true) { Id = "dport" },
    ];

    public override MatchInstance Create() => new UdpMatch(this);
}

/// <summary>
/// A udp match as iptables-nft 1.8.9 stores it. A match with any port condition becomes native
/// nftables expressions (add_nft_udp) that are read back into a udp match when the rule is
/// listed, so the properties hold what those expressions test.
/// A match without conditions stays an xt_udp match, which the kernel accepts only in a rule with
/// <c>-p udp</c>. When listing, iptables-nft folds the expressions of all native udp matches of a
/// rule into one udp match at the place of the first; the kernel still tests each of them.
/// </summary>
public sealed class UdpMatch(UdpExtension ext) : MatchInstance
{
    private static readonly ConditionalWeakTable<RuleContext, UdpMatch> s_listedOfRule = new();

    public override Extension Extension => ext;

    public ushort SourceMin { get; private set; }
    public ushort SourceMax { get; private set; } = ushort.MaxValue;
    public bool InvertSource { get; private set; }
    public ushort DestMin { get; private set; }
    public ushort DestMax { get; private set; } = ushort.MaxValue;
    public bool InvertDest { get; private set; }

    /// <summary>
    /// True when both ports are single, non-zero and inverted together: iptables-nft then compares
    /// the 32-bit (sport, dport) pair with "!=", so the rule matches when <em>either</em> port
    /// differs, not only when both do (as the listed <c>! --sport A ! --dport B</c> suggests).
    /// </summary>
    public bool InvertAsPair { get; private set; }

    /// <summary>True when the match is kept as an xt_udp match (no port condition given).</summary>
    public bool IsXtMatch { get; private set; }

    /// <summary>True when the match tests nothing (a native match whose conditions all vanished, e.g. <c>! --sport :</c>).</summary>
    public bool TestsNothing => !IsXtMatch && _exprs.Count == 0;

    // What a listing shows for this match: null when it is folded into another one (or vanished).
    private NftPortView? _view;
    private List<NftPortExpr> _exprs = [];

    public override void Parse(OptionDef option, string? arg, bool invert, RuleContext ctx)
    {
        var (min, max) = Ports.ParseServiceRange(arg!, "udp", XtOptChecks.EntryName(ext, option));
        if (option.Id == "sport") { SourceMin = min; SourceMax = max; InvertSource |= invert; }
        else { DestMin = min; DestMax = max; InvertDest |= invert; }
    }

    public override void FinalCheck(RuleContext ctx)
    {
        IsXtMatch = !InvertSource && !InvertDest && SourceMin == 0 && SourceMax == ushort.MaxValue
                    && DestMin == 0 && DestMax == ushort.MaxValue;
        if (IsXtMatch)
        {
            _view = new NftPortView();
            return;
        }
        // add_nft_udp: the native form needs the rule's protocol (inverted or not) to be udp.
        if (ctx.Protocol != 17) throw Xt.Param("UDP match requires '-p udp'");

        InvertAsPair = InvertSource && NftPorts.ComparedAsPair(SourceMin, SourceMax, InvertSource, DestMin, DestMax, InvertDest);
        _exprs = NftPorts.Emit(SourceMin, SourceMax, InvertSource, DestMin, DestMax, InvertDest);

        var own = new NftPortView();
        foreach (var e in _exprs) own.Apply(e);
        (SourceMin, SourceMax, InvertSource, DestMin, DestMax, InvertDest) =
            (own.SourceMin, own.SourceMax, own.InvertSource, own.DestMin, own.DestMax, own.InvertDest);

        if (_exprs.Count == 0) return;
        if (s_listedOfRule.TryGetValue(ctx, out var first) && first._view != null)
        {
            foreach (var e in _exprs) first._view.Apply(e);
            return;
        }
        _view = own;
        s_listedOfRule.AddOrUpdate(ctx, this);
    }

    /// <summary>The kernel's xt_udp checks the rule's protocol (xt_check_match).</summary>
    public override string? CheckEntry(KernelCheckContext ctx) =>
        IsXtMatch && (ctx.Header.Protocol != 17 || ctx.Header.InvertProtocol) ? "Invalid argument" : null;

    public override bool SaveModuleName => _view != null;

    public override void Save(StringBuilder sb)
    {
        if (_view is not { } v) return;
        Ports.SaveRange(sb, "sport", v.SourceMin, v.SourceMax, v.InvertSource);
        Ports.SaveRange(sb, "dport", v.DestMin, v.DestMax, v.InvertDest);
    }

    public override void Print(StringBuilder sb, bool numeric)
    {
        if (_view is not { } v) return;
        sb.Append(" udp");
        Ports.PrintRange(sb, "spt", v.SourceMin, v.SourceMax, v.InvertSource, numeric, "udp");
        Ports.PrintRange(sb, "dpt", v.DestMin, v.DestMax, v.InvertDest, numeric, "udp");
    }
}
