using System.Collections.Immutable;
using System.Text;
using SharpTables.Rules.Model;

namespace SharpTables.Rules.Extensions.Multiport;

/// <summary>Which ports a multiport match tests (XT_MULTIPORT_*).</summary>
public enum MultiportDirection : byte { Source = 0, Destination = 1, Either = 2 }

/// <summary><c>-m multiport</c> revision 1 (libxt_multiport / xt_multiport): up to 15 ports or ranges.</summary>
public sealed class MultiportExtension : MatchExtension
{
    public override string Name => "multiport";

    public override IReadOnlyList<OptionDef> Options { get; } =
    [
        new("source-ports", ArgKind.Required, Invertible: true) { Id = "sports" },
        new("sports", ArgKind.Required, Invertible: true) { Id = "sports" },
        new("destination-ports", ArgKind.Required, Invertible: true) { Id = "dports" },
        new("dports", ArgKind.Required, Invertible: true) { Id = "dports" },
        new("ports", ArgKind.Required, Invertible: true),
    ];

    public override MatchInstance Create() => new MultiportMatch(this);
}

public sealed class MultiportMatch(MultiportExtension ext) : MatchInstance
{
    /// <summary>XT_MULTI_PORTS: slots in the kernel structure (a range takes two).</summary>
    public const int MaxSlots = 15;

    public override Extension Extension => ext;

    public MultiportDirection Direction { get; private set; }
    /// <summary>The ports and ranges in the order given; a single port has Min == Max.</summary>
    public ImmutableArray<(ushort Min, ushort Max)> Ranges { get; private set; } = [];
    public bool Invert { get; private set; }
    /// <summary>The rule's protocol at parse time, used for service names in -L.</summary>
    public ushort Protocol { get; private set; }

    public override void Parse(OptionDef option, string? arg, bool invert, RuleContext ctx)
    {
        string proto = CheckProtocol(ctx);
        Protocol = ctx.Protocol;
        Ranges = ParsePorts(arg!, proto);
        Direction = option.Id switch
        {
            "sports" => MultiportDirection.Source,
            "dports" => MultiportDirection.Destination,
            _ => MultiportDirection.Either,
        };
        if (invert) Invert = true;
    }

    private static string CheckProtocol(RuleContext ctx)
    {
        if (ctx.InvertProtocol)
            throw Xt.Param("multiport only works with TCP, UDP, UDPLITE, SCTP and DCCP");
        return ProtocolName(ctx.Protocol)
               ?? throw Xt.Param(ctx.Protocol == 0
                   ? "multiport needs `-p tcp', `-p udp', `-p udplite', `-p sctp' or `-p dccp'"
                   : "multiport only works with TCP, UDP, UDPLITE, SCTP and DCCP");
    }

    private static string? ProtocolName(ushort proto) => proto switch
    {
        6 => "tcp", 17 => "udp", 136 => "udplite", 132 => "sctp", 33 => "dccp", _ => null,
    };

    /// <summary>parse_multi_ports_v1: comma-separated ports or a:b ranges (a &lt; b), 15 slots at most.</summary>
    private static ImmutableArray<(ushort, ushort)> ParsePorts(string text, string proto)
    {
        var list = ImmutableArray.CreateBuilder<(ushort, ushort)>();
        var items = text.Split(',');
        int slot = 0, item = 0;
        for (; item < items.Length && slot < MaxSlots; item++, slot++)
        {
            string cp = items[item];
            int colon = cp.IndexOf(':');
            if (colon >= 0 && slot == MaxSlots - 1) throw Xt.Param("too many ports specified");
            ushort lo = Ports.Parse(colon >= 0 ? cp[..colon] : cp, proto);
            if (colon < 0) { list.Add((lo, lo)); continue; }
            slot++;
            ushort hi = Ports.Parse(cp[(colon + 1)..], proto);
            if (lo >= hi) throw Xt.Param("invalid portrange specified");
            list.Add((lo, hi));
        }
        if (item < items.Length) throw Xt.Param("too many ports specified");
        return list.ToImmutable();
    }

    public override void FinalCheck(RuleContext ctx)
    {
        if (SeenCount == 0) throw Xt.Param("multiport expection an option");
        bool s = Seen("sports"), d = Seen("dports"), e = Seen("ports");
        // xtopt exclusion check, in option table order
        if (s && (d || e))
            throw Xt.Param($"multiport: option \"--source-ports\" cannot be used together with \"--{(d ? "destination-ports" : "ports")}\".\n");
        if (d && e)
            throw Xt.Param("multiport: option \"--destination-ports\" cannot be used together with \"--ports\".\n");
    }

    public override void Save(StringBuilder sb)
    {
        if (Invert) sb.Append(" !");
        sb.Append(Direction switch
        {
            MultiportDirection.Source => " --sports ",
            MultiportDirection.Destination => " --dports ",
            _ => " --ports ",
        });
        AppendPorts(sb, numeric: true);
    }

    public override void Print(StringBuilder sb, bool numeric)
    {
        sb.Append(" multiport ");
        sb.Append(Direction switch
        {
            MultiportDirection.Source => "sports ",
            MultiportDirection.Destination => "dports ",
            _ => "ports ",
        });
        if (Invert) sb.Append(" !");
        AppendPorts(sb, numeric);
    }

    private void AppendPorts(StringBuilder sb, bool numeric)
    {
        string proto = ProtocolName(Protocol) ?? "tcp";
        for (int i = 0; i < Ranges.Length; i++)
        {
            if (i > 0) sb.Append(',');
            Ports.PrintPort(sb, Ranges[i].Min, numeric, proto);
            if (Ranges[i].Min != Ranges[i].Max)
            {
                sb.Append(':');
                Ports.PrintPort(sb, Ranges[i].Max, numeric, proto);
            }
        }
    }
}
