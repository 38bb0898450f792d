using System.Text;
using SharpTables.Rules.Model;

namespace SharpTables.Rules.Extensions.Addrtype;

/// <summary>Route types an address can have (RTN_*), as a bit mask (bit n = type n).</summary>
[Flags]
public enum AddressTypes : ushort
{
    None = 0,
    Unspec = 1 << 0, Unicast = 1 << 1, Local = 1 << 2, Broadcast = 1 << 3, Anycast = 1 << 4, Multicast = 1 << 5,
    Blackhole = 1 << 6, Unreachable = 1 << 7, Prohibit = 1 << 8, Throw = 1 << 9, Nat = 1 << 10, XResolve = 1 << 11,
}

/// <summary><c>-m addrtype</c> revision 1 (libxt_addrtype / xt_addrtype): source/destination address types.</summary>
public sealed class AddrtypeExtension : MatchExtension
{
    public override string Name => "addrtype";

    public override IReadOnlyList<OptionDef> Options { get; } =
    [
        new("src-type", ArgKind.Required, Invertible: true),
        new("dst-type", ArgKind.Required, Invertible: true),
        new("limit-iface-in", ArgKind.None),
        new("limit-iface-out", ArgKind.None),
    ];

    public override MatchInstance Create() => new AddrtypeMatch(this);
}

public sealed class AddrtypeMatch(AddrtypeExtension ext) : MatchInstance
{
    private static readonly string[] s_names =
    [
        "UNSPEC", "UNICAST", "LOCAL", "BROADCAST", "ANYCAST", "MULTICAST", "BLACKHOLE", "UNREACHABLE",
        "PROHIBIT", "THROW", "NAT", "XRESOLVE",
    ];

    public override Extension Extension => ext;

    public AddressTypes Source { get; private set; }
    public bool InvertSource { get; private set; }
    public AddressTypes Dest { get; private set; }
    public bool InvertDest { get; private set; }
    /// <summary>Look the address up only on the packet's input (resp. output) interface.</summary>
    public bool LimitIfaceIn { get; private set; }
    public bool LimitIfaceOut { get; private set; }

    public override void Parse(OptionDef option, string? arg, bool invert, RuleContext ctx)
    {
        switch (option.Name)
        {
            case "src-type":
                Source |= ParseTypes(arg!);
                InvertSource |= invert;
                break;
            case "dst-type":
                Dest |= ParseTypes(arg!);
                InvertDest |= invert;
                break;
            case "limit-iface-in": LimitIfaceIn = true; break;
            case "limit-iface-out": LimitIfaceOut = true; break;
        }
    }

    /// <summary>parse_types: comma-separated names, each matched case-insensitively as a prefix (first hit wins).</summary>
    private static AddressTypes ParseTypes(string arg)
    {
        AddressTypes mask = 0;
        int start = 0;
        while (true)
        {
            int comma = arg.IndexOf(',', start);
            if (comma < 0) break;
            if (comma == start || !TryType(arg.AsSpan(start, comma - start), ref mask))
                throw Xt.Param($"addrtype: bad type `{arg[start..]}'");
            start = comma + 1;
        }
        if (start == arg.Length || !TryType(arg.AsSpan(start), ref mask))
            throw Xt.Param($"addrtype: bad type \"{arg[start..]}\"");
        return mask;
    }

    private static bool TryType(ReadOnlySpan<char> name, ref AddressTypes mask)
    {
        for (int i = 0; i < s_names.Length; i++)
        {
            // strncasecmp(name, rtn_name, len(name)): a prefix, or the whole name
            if (name.Length <= s_names[i].Length && s_names[i].AsSpan(0, name.Length).Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                mask |= (AddressTypes)(1 << i);
                return true;
            }
        }
        return false;
    }

    public override void FinalCheck(RuleContext ctx)
    {
        if (!Seen("src-type") && !Seen("dst-type"))
            throw Xt.Param("addrtype: you must specify --src-type or --dst-type");
        if (LimitIfaceIn && LimitIfaceOut)
            throw Xt.Param("addrtype: option \"--limit-iface-in\" cannot be used together with \"--limit-iface-out\".\n");
    }

    /// <summary>
    /// xt_addrtype's checkentry: the interface limit must fit the hook. It is only checked for a rule
    /// added to a built-in chain; a rule in a user chain passes, even when the chain is reachable
    /// from a hook where the limit makes no sense.
    /// </summary>
    public override string? CheckEntry(KernelCheckContext ctx)
    {
        var hooks = ctx.CheckEntryHooks;
        if (LimitIfaceOut && (hooks & (HookMask.PreRouting | HookMask.Input)) != 0) return "Invalid argument";
        if (LimitIfaceIn && (hooks & (HookMask.PostRouting | HookMask.Output)) != 0) return "Invalid argument";
        // IPv6 has no blackhole, broadcast, or prohibit-and-above route types to look up.
        var types = Source | Dest;
        if (Family == Family.IPv6 && ((types & (AddressTypes.Blackhole | AddressTypes.Broadcast)) != 0 || (ushort)types >= (ushort)AddressTypes.Prohibit))
            return "Invalid argument";
        return null;
    }

    private static void AppendTypes(StringBuilder sb, AddressTypes mask)
    {
        string sep = "";
        for (int i = 0; i < s_names.Length; i++)
        {
            if (((int)mask & (1 << i)) == 0) continue;
            sb.Append(sep).Append(s_names[i]);
            sep = ",";
        }
    }

    public override void Save(StringBuilder sb)
    {
        if (Source != 0)
        {
            sb.Append(InvertSource ? " ! --src-type " : " --src-type ");
            AppendTypes(sb, Source);
        }
        if (Dest != 0)
        {
            sb.Append(InvertDest ? " ! --dst-type " : " --dst-type ");
            AppendTypes(sb, Dest);
        }
        if (LimitIfaceIn) sb.Append(" --limit-iface-in");
        if (LimitIfaceOut) sb.Append(" --limit-iface-out");
    }

    public override void Print(StringBuilder sb, bool numeric)
    {
        sb.Append(" ADDRTYPE match");
        if (Source != 0)
        {
            sb.Append(" src-type ").Append(InvertSource ? "!" : "");
            AppendTypes(sb, Source);
        }
        if (Dest != 0)
        {
            sb.Append(" dst-type ").Append(InvertDest ? "!" : "");
            AppendTypes(sb, Dest);
        }
        if (LimitIfaceIn) sb.Append(" limit-in");
        if (LimitIfaceOut) sb.Append(" limit-out");
    }
}
