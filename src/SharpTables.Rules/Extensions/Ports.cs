using System.Text;

namespace SharpTables.Rules.Extensions;

/// <summary>Port and port-range parsing and printing shared by tcp, udp and friends.</summary>
public static class Ports
{
    /// <summary>xtables_parse_port: a number 0-65535 (C syntax) or a service name for <paramref name="proto"/>.</summary>
    public static ushort Parse(string port, string proto)
    {
        if (Packets.Ipv4.TryParseCUInt(port, ushort.MaxValue, out uint n)) return (ushort)n;
        if (NetDb.Port(port, proto) is { } p) return (ushort)p;
        throw Xt.Param($"invalid port/service `{port}' specified");
    }

    /// <summary>parse_tcp_ports/parse_udp_ports: <c>p</c>, <c>a:b</c>, <c>a:</c>, <c>:b</c>, <c>:</c>.</summary>
    public static (ushort Min, ushort Max) ParseRange(string spec, string proto)
    {
        int colon = spec.IndexOf(':');
        if (colon < 0)
        {
            var p = Parse(spec, proto);
            return (p, p);
        }
        string a = spec[..colon], b = spec[(colon + 1)..];
        ushort min = a.Length > 0 ? Parse(a, proto) : (ushort)0;
        ushort max = b.Length > 0 ? Parse(b, proto) : ushort.MaxValue;
        if (min > max) throw Xt.Param("invalid portrange (min > max)");
        return (min, max);
    }

    /// <summary>Save form: " [!] --OPT a[:b]" unless the range is 0:65535 and not inverted.</summary>
    public static void SaveRange(StringBuilder sb, string option, ushort min, ushort max, bool invert)
    {
        if (min == 0 && max == ushort.MaxValue) return;
        if (invert) sb.Append(" !");
        sb.Append(" --").Append(option).Append(' ').Append(min);
        if (min != max) sb.Append(':').Append(max);
    }

    /// <summary>-L form: " spt:22", " dpts:!1:1023" (service names unless numeric).</summary>
    public static void PrintRange(StringBuilder sb, string name, ushort min, ushort max, bool invert, bool numeric, string proto)
    {
        if (min == 0 && max == ushort.MaxValue && !invert) return;
        sb.Append(' ').Append(name);
        if (min == max)
        {
            sb.Append(':').Append(invert ? "!" : "");
            PrintPort(sb, min, numeric, proto);
        }
        else
        {
            sb.Append("s:").Append(invert ? "!" : "");
            PrintPort(sb, min, numeric, proto);
            sb.Append(':');
            PrintPort(sb, max, numeric, proto);
        }
    }

    public static void PrintPort(StringBuilder sb, ushort port, bool numeric, string proto)
    {
        string? service = numeric ? null : NetDb.ServiceName(port, proto);
        if (service != null) sb.Append(service); else sb.Append(port);
    }
}
