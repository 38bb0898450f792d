using SharpTables.Rules.Extensions.XtOpt;
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

    /// <summary>
    /// libxtables' <c>xtables_getportbyname</c> (used by xtopt port options): getaddrinfo's service
    /// lookup, i.e. a decimal number (strtoul base 10, 0-65535) or a service name known for tcp,
    /// else for udp. Returns -1 when it resolves to nothing.
    /// </summary>
    public static int ServicePort(string name)
    {
        ulong n = XtNum.StrToUMax(name, 0, 10, out int end, out bool overflow);
        if (end == name.Length) // the whole text is a number (an empty text is 0)
            return overflow || n > ushort.MaxValue ? -1 : (int)n;
        return NetDb.Port(name, "tcp") ?? NetDb.Port(name, "udp") ?? -1;
    }

    /// <summary>
    /// xtopt's XTTYPE_PORTRC (<c>xtopt_parse_mport</c>): up to two ':'-separated components, each
    /// resolved by <see cref="ServicePort"/>; an empty component keeps its default (0 or 65535), and a
    /// single component means that one port.
    /// </summary>
    public static (ushort Min, ushort Max) ParseServiceRange(string arg, string ext, string option)
    {
        var parts = arg.Split(':');
        ushort min = 0, max = ushort.MaxValue;
        for (int i = 0; i < parts.Length; i++)
        {
            if (i == 2)
                throw Xt.Param($"{ext}: Too many components for option \"--{option}\" (max: 2)\n");
            if (parts[i].Length == 0) continue;
            int p = ServicePort(parts[i]);
            if (p < 0) throw Xt.Param($"Port \"{parts[i]}\" does not resolve to anything.\n");
            if (i == 0) min = (ushort)p; else max = (ushort)p;
        }
        if (parts.Length == 1) max = min;
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
