using SharpTables.Rules.Extensions.XtOpt;
using System.Collections.Immutable;
using System.Text;
using SharpTables.Rules.Model;

namespace SharpTables.Rules.Extensions.Mac;

/// <summary><c>-m mac</c> (libxt_mac / xt_mac): the Ethernet source address.</summary>
public sealed class MacExtension : MatchExtension
{
    public override string Name => "mac";

    public override IReadOnlyList<OptionDef> Options { get; } =
    [
        new("mac-source", ArgKind.Required, Invertible: true) { Mandatory = true },
    ];

    public override MatchInstance Create() => new MacMatch(this);
}

public sealed class MacMatch(MacExtension ext) : MatchInstance
{
    public override Extension Extension => ext;

    public ImmutableArray<byte> Source { get; private set; } = ImmutableArray.Create(new byte[6]);
    public bool Invert { get; private set; }

    public override void Parse(OptionDef option, string? arg, bool invert, RuleContext ctx)
    {
        Source = ParseMac(arg!);
        Invert |= invert;
    }

    /// <summary>
    /// xtopt's XTTYPE_ETHERMAC: six fields separated by ':', each read by strtoul(.., 16) and at
    /// most two characters long (so " 4", "-1" or an empty field are accepted, as in iptables).
    /// </summary>
    public static ImmutableArray<byte> ParseMac(string text)
    {
        var mac = new byte[6];
        int pos = 0;
        for (int i = 0; i < 6; i++)
        {
            ulong v = XtNum.StrToUMax(text, pos, 16, out int end, out _);
            char expected = i < 5 ? ':' : '\0';
            char at = end < text.Length ? text[end] : '\0';
            if (at != expected || end - pos > 2) throw Xt.Param("Invalid MAC address specified.");
            mac[i] = (byte)v;
            pos = end + 1;
        }
        return ImmutableArray.Create(mac);
    }

    /// <summary>xt_mac is only valid from PREROUTING, INPUT and FORWARD.</summary>
    public override string? CheckEntry(KernelCheckContext ctx) =>
        (ctx.Hooks & ~(HookMask.PreRouting | HookMask.Input | HookMask.Forward)) != 0 ? "Invalid argument" : null;

    public static string Format(ImmutableArray<byte> mac) => string.Join(':', mac.Select(b => b.ToString("x2")));

    public override void Save(StringBuilder sb)
    {
        if (Invert) sb.Append(" !");
        sb.Append(" --mac-source ").Append(Format(Source));
    }

    public override void Print(StringBuilder sb, bool numeric)
    {
        sb.Append(" MAC ");
        if (Invert) sb.Append("! ");
        sb.Append(Format(Source));
    }
}
