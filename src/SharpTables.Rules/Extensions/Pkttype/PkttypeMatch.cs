using System.Text;

namespace SharpTables.Rules.Extensions.Pkttype;

/// <summary>The link-layer packet type (the kernel's PACKET_* values).</summary>
public enum PacketType : byte { Host = 0, Broadcast = 1, Multicast = 2, OtherHost = 3 }

/// <summary><c>-m pkttype</c> (libxt_pkttype / xt_pkttype): unicast, broadcast, multicast, otherhost.</summary>
public sealed class PkttypeExtension : MatchExtension
{
    public override string Name => "pkttype";

    public override IReadOnlyList<OptionDef> Options { get; } =
    [
        new("pkt-type", ArgKind.Required, Invertible: true) { Mandatory = true },
    ];

    public override MatchInstance Create() => new PkttypeMatch(this);
}

public sealed class PkttypeMatch(PkttypeExtension ext) : MatchInstance
{
    private static readonly (string Name, PacketType Type)[] s_types =
    [
        ("unicast", PacketType.Host), ("broadcast", PacketType.Broadcast), ("multicast", PacketType.Multicast),
        ("otherhost", PacketType.OtherHost), ("bcast", PacketType.Broadcast), ("mcast", PacketType.Multicast),
        ("host", PacketType.Host),
    ];

    public override Extension Extension => ext;

    public PacketType Type { get; private set; }
    public bool Invert { get; private set; }

    public override void Parse(OptionDef option, string? arg, bool invert, RuleContext ctx)
    {
        int i = Array.FindIndex(s_types, t => string.Equals(t.Name, arg, StringComparison.OrdinalIgnoreCase));
        if (i < 0) throw Xt.Param($"Bad packet type '{arg}'");
        Type = s_types[i].Type;
        Invert |= invert;
    }

    private string TypeName => s_types.First(t => t.Type == Type).Name;

    public override void Save(StringBuilder sb) =>
        sb.Append(Invert ? " ! --pkt-type " : " --pkt-type ").Append(TypeName);

    public override void Print(StringBuilder sb, bool numeric) =>
        sb.Append(" PKTTYPE ").Append(Invert ? "!" : "").Append("= ").Append(TypeName);
}
