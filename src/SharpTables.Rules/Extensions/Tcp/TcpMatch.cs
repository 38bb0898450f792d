using System.Text;
using SharpTables.Rules.Model;

namespace SharpTables.Rules.Extensions.Tcp;

/// <summary>TCP header flag bits as the tcp match names them.</summary>
[Flags]
public enum TcpFlags : byte
{
    None = 0, Fin = 0x01, Syn = 0x02, Rst = 0x04, Psh = 0x08, Ack = 0x10, Urg = 0x20, All = 0x3f,
}

/// <summary><c>-m tcp</c> (libxt_tcp / xt_tcpudp): ports, flags and option presence.</summary>
public sealed class TcpExtension : MatchExtension
{
    public override string Name => "tcp";

    // Old-style (non-xtopt) parser: it words its own "Only one" errors.
    public override IReadOnlyList<OptionDef> Options { get; } =
    [
        new("source-port", ArgKind.Required, Invertible: true) { Id = "sport", Legacy = true },
        new("sport", ArgKind.Required, Invertible: true) { Id = "sport", Legacy = true },
        new("destination-port", ArgKind.Required, Invertible: true) { Id = "dport", Legacy = true },
        new("dport", ArgKind.Required, Invertible: true) { Id = "dport", Legacy = true },
        new("syn", ArgKind.None, Invertible: true) { Legacy = true },
        new("tcp-flags", ArgKind.Required, Invertible: true) { Legacy = true },
        new("tcp-option", ArgKind.Required, Invertible: true) { Legacy = true },
    ];

    public override MatchInstance Create() => new TcpMatch(this);
}

public sealed class TcpMatch(TcpExtension ext) : MatchInstance
{
    private static readonly (string Name, TcpFlags Flag)[] s_flagNames =
    [
        ("FIN", TcpFlags.Fin), ("SYN", TcpFlags.Syn), ("RST", TcpFlags.Rst), ("PSH", TcpFlags.Psh),
        ("ACK", TcpFlags.Ack), ("URG", TcpFlags.Urg), ("ALL", TcpFlags.All), ("NONE", TcpFlags.None),
    ];

    public override Extension Extension => ext;

    public ushort SourceMin { get; private set; }
    public ushort SourceMax { get; private set; } = ushort.MaxValue;
    public bool InvertSource { get; private set; }
    public ushort DestMin { get; private set; }
    public ushort DestMax { get; private set; } = ushort.MaxValue;
    public bool InvertDest { get; private set; }
    public TcpFlags FlagMask { get; private set; }
    public TcpFlags FlagCompare { get; private set; }
    public bool InvertFlags { get; private set; }
    public byte Option { get; private set; }
    public bool InvertOption { get; private set; }

    private bool _flagsSeen, _optionSeen, _sportSeen, _dportSeen;

    public override void Parse(OptionDef option, string? arg, bool invert, RuleContext ctx)
    {
        switch (option.Id)
        {
            case "sport":
                if (_sportSeen) throw Xt.Param("Only one `--source-port' allowed");
                _sportSeen = true;
                (SourceMin, SourceMax) = Ports.ParseRange(arg!, "tcp");
                InvertSource = invert;
                break;
            case "dport":
                if (_dportSeen) throw Xt.Param("Only one `--destination-port' allowed");
                _dportSeen = true;
                (DestMin, DestMax) = Ports.ParseRange(arg!, "tcp");
                InvertDest = invert;
                break;
            case "syn":
                if (_flagsSeen) throw Xt.Param("Only one of `--syn' or `--tcp-flags'  allowed");
                _flagsSeen = true;
                FlagMask = TcpFlags.Fin | TcpFlags.Syn | TcpFlags.Rst | TcpFlags.Ack;
                FlagCompare = TcpFlags.Syn;
                InvertFlags = invert;
                break;
            case "tcp-flags":
            {
                if (_flagsSeen) throw Xt.Param("Only one of `--syn' or `--tcp-flags'  allowed");
                _flagsSeen = true;
                var comp = ctx.ExtraArg() ?? throw Xt.Param("--tcp-flags requires two args.");
                FlagMask = ParseFlags(arg!);
                FlagCompare = ParseFlags(comp);
                InvertFlags = invert;
                break;
            }
            case "tcp-option":
                if (_optionSeen) throw Xt.Param("Only one `--tcp-option' allowed");
                _optionSeen = true;
                if (!Packets.Ipv4.TryParseCUInt(arg!, 255, out uint o) || o < 1)
                    throw Xt.Param($"Bad TCP option \"{arg}\"");
                Option = (byte)o;
                InvertOption = invert;
                break;
        }
    }

    private static TcpFlags ParseFlags(string list)
    {
        TcpFlags result = 0;
        foreach (var name in list.Split(','))
        {
            int i = Array.FindIndex(s_flagNames, f => string.Equals(f.Name, name, StringComparison.OrdinalIgnoreCase));
            if (i < 0) throw Xt.Param($"Unknown TCP flag `{name}'");
            result |= s_flagNames[i].Flag;
        }
        return result;
    }

    public override void FinalCheck(RuleContext ctx)
    {
        if (ctx.Protocol != 6 || ctx.InvertProtocol)
            throw Xt.Param("TCP match requires '-p tcp'");
        if (Option != 0 || InvertOption) return; // kept as an xt_tcp match
        // Native nftables form: "! --dport 0:N" is emitted as "tcp dport > N" and reads back as
        // the range N+1:65535, no longer inverted (oracle: ! --dport 0:1023 saves as --dport 1024:65535).
        if (InvertSource && SourceMin == 0 && SourceMax > 0 && SourceMax < ushort.MaxValue)
            (SourceMin, SourceMax, InvertSource) = ((ushort)(SourceMax + 1), ushort.MaxValue, false);
        if (InvertDest && DestMin == 0 && DestMax > 0 && DestMax < ushort.MaxValue)
            (DestMin, DestMax, InvertDest) = ((ushort)(DestMax + 1), ushort.MaxValue, false);
    }

    /// <summary>
    /// iptables-nft drops a tcp match whose only content is an inverted full port range
    /// (<c>! --sport :</c>): it cannot express it and prints the rule without <c>-m tcp</c>.
    /// </summary>
    private bool Vanishes =>
        (InvertSource && SourceMin == 0 && SourceMax == ushort.MaxValue) ||
        (InvertDest && DestMin == 0 && DestMax == ushort.MaxValue);

    public override bool SaveModuleName => !Vanishes;

    public override void Save(StringBuilder sb)
    {
        if (Vanishes) return;
        Ports.SaveRange(sb, "sport", SourceMin, SourceMax, InvertSource);
        Ports.SaveRange(sb, "dport", DestMin, DestMax, InvertDest);
        if (Option != 0 || InvertOption)
        {
            if (InvertOption) sb.Append(" !");
            sb.Append(" --tcp-option ").Append(Option);
        }
        if (FlagMask != 0 || InvertFlags)
        {
            if (InvertFlags) sb.Append(" !");
            sb.Append(" --tcp-flags ");
            AppendFlags(sb, FlagMask);
            sb.Append(' ');
            AppendFlags(sb, FlagCompare);
        }
    }

    public static void AppendFlags(StringBuilder sb, TcpFlags flags)
    {
        if (flags == 0) { sb.Append("NONE"); return; }
        bool first = true;
        foreach (var (name, flag) in s_flagNames[..6])
        {
            if ((flags & flag) == 0) continue;
            if (!first) sb.Append(',');
            sb.Append(name);
            first = false;
        }
    }

    public override void Print(StringBuilder sb, bool numeric)
    {
        if (Vanishes) return;
        sb.Append(" tcp");
        Ports.PrintRange(sb, "spt", SourceMin, SourceMax, InvertSource, numeric, "tcp");
        Ports.PrintRange(sb, "dpt", DestMin, DestMax, InvertDest, numeric, "tcp");
        if (Option != 0 || InvertOption)
            sb.Append(" option=").Append(InvertOption ? "!" : "").Append(Option);
        if (FlagMask != 0 || InvertFlags)
        {
            sb.Append(" flags:").Append(InvertFlags ? "!" : "");
            if (numeric) sb.Append("0x").Append(((byte)FlagMask).ToString("X2")).Append("/0x").Append(((byte)FlagCompare).ToString("X2"));
            else { AppendFlags(sb, FlagMask); sb.Append('/'); AppendFlags(sb, FlagCompare); }
        }
    }
}
