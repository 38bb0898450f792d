namespace SharpTables.Rules.Extensions;

/// <summary>The comparison of one nftables port expression as iptables-nft emits it for tcp/udp.</summary>
public enum NftPortOp { Equal, NotEqual, LessOrEqual, Greater, InRange, NotInRange }

/// <summary>One port expression: a comparison of the source (or destination) port.</summary>
public readonly record struct NftPortExpr(bool Destination, NftPortOp Op, ushort A, ushort B);

/// <summary>
/// How iptables-nft 1.8.9 turns the port ranges of a tcp/udp match into nftables expressions
/// (add_nft_tcpudp / expr_gen_range_cmp16) and how it reads them back into a match when listing
/// (nft_parse_tcp/udp and their _range variants).
/// </summary>
public static class NftPorts
{
    /// <summary>
    /// The expressions for one match: per field nothing for the full range 0-65535 (inverted or
    /// not), "==/!=" for one port, "&lt;=" (inverted "&gt;") for <c>:N</c>, else a range.
    /// </summary>
    public static List<NftPortExpr> Emit(ushort sMin, ushort sMax, bool sInv, ushort dMin, ushort dMax, bool dInv)
    {
        var list = new List<NftPortExpr>(2);
        Add(list, false, sMin, sMax, sInv);
        Add(list, true, dMin, dMax, dInv);
        return list;
    }

    private static void Add(List<NftPortExpr> list, bool dest, ushort min, ushort max, bool inv)
    {
        if (min == 0 && max == ushort.MaxValue) return;
        if (min == max) list.Add(new(dest, inv ? NftPortOp.NotEqual : NftPortOp.Equal, min, min));
        else if (min == 0) list.Add(new(dest, inv ? NftPortOp.Greater : NftPortOp.LessOrEqual, max, max));
        else list.Add(new(dest, inv ? NftPortOp.NotInRange : NftPortOp.InRange, min, max));
    }

    /// <summary>
    /// True when iptables-nft compares both ports at once (one 32-bit compare): both single,
    /// non-zero and inverted alike. Inverted, that matches when either port differs.
    /// </summary>
    public static bool ComparedAsPair(ushort sMin, ushort sMax, bool sInv, ushort dMin, ushort dMax, bool dInv) =>
        sMin != 0 && sMin == sMax && dMin != 0 && dMin == dMax && sInv == dInv;
}

/// <summary>The port ranges of the match a listing shows, built from expressions in rule order.</summary>
public sealed class NftPortView
{
    public ushort SourceMin, DestMin;
    public ushort SourceMax = ushort.MaxValue, DestMax = ushort.MaxValue;
    public bool InvertSource, InvertDest;

    /// <summary>What one expression does to the listed match (inversions are never cleared).</summary>
    public void Apply(NftPortExpr e)
    {
        ref ushort min = ref e.Destination ? ref DestMin : ref SourceMin;
        ref ushort max = ref e.Destination ? ref DestMax : ref SourceMax;
        ref bool inv = ref e.Destination ? ref InvertDest : ref InvertSource;
        switch (e.Op)
        {
            case NftPortOp.Equal: min = max = e.A; break;
            case NftPortOp.NotEqual: min = max = e.A; inv = true; break;
            case NftPortOp.LessOrEqual: max = e.A; break;
            case NftPortOp.Greater: min = (ushort)Math.Min(e.A + 1, ushort.MaxValue); break;
            case NftPortOp.InRange: min = e.A; max = e.B; break;
            case NftPortOp.NotInRange: min = e.A; max = e.B; inv = true; break;
        }
    }
}
