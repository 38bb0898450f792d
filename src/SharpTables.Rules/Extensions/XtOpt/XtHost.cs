using SharpTables.Rules.Model;
using SharpTables.Rules.Parsing;

namespace SharpTables.Rules.Extensions.XtOpt;

/// <summary>
/// The address option types of libxtables' xtoptions.c (IPv4, and IPv6 through the overloads that
/// take a <see cref="Family"/>): XTTYPE_HOST (getaddrinfo of one
/// name or number), XTTYPE_PLEN / XTTYPE_PLENMASK (a prefix length or a dotted mask) and
/// XTTYPE_HOSTMASK (host[/plen]). Names are looked up in /etc/hosts only, and a name that is not
/// there fails the way getaddrinfo fails on a host without a reachable DNS server.
/// </summary>
public static class XtHost
{
    /// <summary>glibc inet_aton as getaddrinfo uses it: 1 to 4 C numbers (0x, leading-0 octal), the last filling the rest.</summary>
    public static bool InetAton(string s, out uint address)
    {
        address = 0;
        var parts = new List<ulong>(4);
        int i = 0;
        while (true)
        {
            if (i >= s.Length || !char.IsAsciiDigit(s[i])) return false;
            ulong v = XtNum.StrToUMax(s, i, 0, out int end, out bool erange);
            if (erange || v > uint.MaxValue) return false;
            parts.Add(v);
            i = end;
            if (i < s.Length && s[i] == '.')
            {
                if (parts.Count == 4) return false;
                i++;
                continue;
            }
            break;
        }
        if (i != s.Length) return false;
        ulong val = parts[^1];
        ulong[] limits = [0xffffffff, 0xffffff, 0xffff, 0xff];
        if (val > limits[parts.Count - 1]) return false;
        for (int k = 0; k < parts.Count - 1; k++)
        {
            if (parts[k] > 0xff) return false;
            val |= parts[k] << (24 - 8 * k);
        }
        address = (uint)val;
        return true;
    }

    /// <summary>xtopt_parse_host: one IPv4 address for a number or an /etc/hosts name.</summary>
    public static uint ParseHost(string arg)
    {
        if (InetAton(arg, out uint a)) return a;
        var found = HostsFile.System.Lookup(arg);
        if (found.Count > 1)
            throw Xt.Param($"{arg} resolves to more than one address\n");
        if (found.Count == 1) return found[0];
        throw Xt.Param($"getaddrinfo: {(WouldAskDns(arg) ? "Temporary failure in name resolution" : "Name or service not known")}\n");
    }

    /// <summary>
    /// xtopt_parse_host for the family: IPv4 as <see cref="ParseHost(string)"/>; IPv6 through
    /// getaddrinfo(AF_INET6): a numeric IPv6 address, else an IPv6 entry of /etc/hosts. A numeric
    /// IPv4 address has the wrong family; other names fail as they would without DNS.
    /// </summary>
    public static UInt128 ParseHost(Family family, string arg)
    {
        if (family == Family.IPv4) return ParseHost(arg);
        if (Ipv6Text.TryParseScoped(arg, out var a6)) return a6;
        if (InetAton(arg, out _))
            throw Xt.Param("getaddrinfo: Address family for hostname not supported\n");
        var found = HostsFile.System.Lookup6(arg);
        if (found.Count > 1)
            throw Xt.Param($"{arg} resolves to more than one address\n");
        if (found.Count == 1) return found[0];
        throw Xt.Param($"getaddrinfo: {(WouldAskDns(arg) ? "Temporary failure in name resolution" : "Name or service not known")}\n");
    }

    /// <summary>
    /// Whether glibc would send the name to DNS (which is unreachable where the real tool ran):
    /// not all digits and dots (unless it ends in a dot), and a syntactically valid host name.
    /// </summary>
    private static bool WouldAskDns(string name)
    {
        if (name.Length == 0) return false;
        if (char.IsAsciiDigit(name[0]) && name.All(c => char.IsAsciiDigit(c) || c == '.') && name[^1] != '.')
            return false;
        var labels = name.EndsWith('.') ? name[..^1].Split('.') : name.Split('.');
        foreach (var label in labels)
        {
            if (label.Length == 0 || label.Length > 63 || label[0] == '-') return false;
            if (!label.All(c => char.IsAsciiLetterOrDigit(c) || c == '-' || c == '_')) return false;
        }
        return true;
    }

    /// <summary>
    /// xtopt_parse_plen: a prefix length 0-32, or else a numeric dotted mask whose prefix length
    /// is used; a mask with holes yields 255 (libxtables' -1 stored in a byte).
    /// </summary>
    public static int ParsePlen(string ext, string option, string arg)
    {
        if (XtNum.StrToUL(arg, out ulong len, 0, 32)) return (int)len;
        if (InetAton(arg, out uint mask))
        {
            int cidr = Packets.Ipv4.PrefixLength(mask);
            return cidr < 0 ? 255 : cidr;
        }
        throw Xt.Param($"{ext}: bad value for option \"--{option}\", neither a valid network mask nor valid CIDR (0-32).\n");
    }

    /// <summary>
    /// xtopt_parse_plen for the family: IPv6 takes a prefix length 0-128 or a numeric IPv6 mask
    /// (a mask with holes yields 255, which the kernel refuses).
    /// </summary>
    public static int ParsePlen(string ext, string option, string arg, Family family)
    {
        if (family == Family.IPv4) return ParsePlen(ext, option, arg);
        if (XtNum.StrToUL(arg, out ulong len, 0, 128)) return (int)len;
        if (Ipv6Text.TryParse(arg, out var mask))
        {
            int cidr = Ipv6Text.PrefixLength(mask);
            return cidr < 0 ? 255 : cidr;
        }
        throw Xt.Param($"{ext}: bad value for option \"--{option}\", neither a valid network mask nor valid CIDR (0-128).\n");
    }

    /// <summary>xtopt_parse_plenmask for the family (all ones when the length is out of range).</summary>
    public static UInt128 MaskOf(int plen, Family family) =>
        family == Family.IPv4 ? MaskOf(plen) : plen > 128 ? UInt128.MaxValue : Ipv6Text.MaskFromPrefix(plen);

    /// <summary>xtopt_parse_hostmask for the family; the address is not masked.</summary>
    public static (UInt128 Address, UInt128 Mask) ParseHostMask(string ext, string option, string arg, Family family)
    {
        if (family == Family.IPv4)
        {
            var (a4, m4) = ParseHostMask(ext, option, arg);
            return (a4, m4);
        }
        int slash = arg.IndexOf('/');
        if (slash < 0) return (ParseHost(family, arg), UInt128.MaxValue);
        var a = ParseHost(family, arg[..slash]);
        return (a, MaskOf(ParsePlen(ext, option, arg[(slash + 1)..], family), family));
    }

    /// <summary>xtopt_parse_plenmask: the mask for a prefix length (all ones when out of range).</summary>
    public static uint MaskOf(int plen) => plen switch
    {
        0 => 0,
        <= 32 => Packets.Ipv4.MaskFromPrefix(plen),
        _ => uint.MaxValue,
    };

    /// <summary>xtopt_parse_hostmask: <c>host</c> (mask /32) or <c>host/plen-or-mask</c>; the address is not masked.</summary>
    public static (uint Address, uint Mask) ParseHostMask(string ext, string option, string arg)
    {
        int slash = arg.IndexOf('/');
        if (slash < 0) return (ParseHost(arg), uint.MaxValue);
        uint a = ParseHost(arg[..slash]);
        return (a, MaskOf(ParsePlen(ext, option, arg[(slash + 1)..])));
    }

    /// <summary>xtables_ipmask_to_numeric: "" for /32, "/len", or "/a.b.c.d" for a mask with holes.</summary>
    public static string MaskSuffix(uint mask)
    {
        int len = Packets.Ipv4.PrefixLength(mask);
        return len == 32 ? "" : len >= 0 ? "/" + len : "/" + Packets.Ipv4.Format(mask);
    }

    /// <summary>
    /// xtables_getportbyname (getaddrinfo of a service): a decimal number (taken modulo 65536, as
    /// the socket address keeps 16 bits) or a service name; null when it resolves to nothing.
    /// </summary>
    public static int? PortByName(string name)
    {
        int i = 0;
        while (i < name.Length && char.IsWhiteSpace(name[i])) i++;
        if (i < name.Length && name[i] == '+') i++;
        int digits = i;
        while (i < name.Length && char.IsAsciiDigit(name[i])) i++;
        if (i > digits && i == name.Length)
        {
            ulong v = XtNum.StrToUMax(name, 0, 10, out _, out bool erange);
            return erange ? 0xffff : (int)(v & 0xffff);
        }
        foreach (var proto in (string[])["tcp", "udp", "sctp", "dccp"])
            if (NetDb.Port(name, proto) is { } p) return p;
        return null;
    }

    /// <summary>
    /// xtopt_parse_mport (XTTYPE_PORTRC): "port", "lo:hi", "lo:", ":hi" or ":" with service names;
    /// a single port gives lo == hi.
    /// </summary>
    public static (ushort Low, ushort High) ParsePortRange(string ext, string option, string arg, int maxIter = 2)
    {
        ushort[] range = [0, ushort.MaxValue];
        int nvals = 0;
        foreach (var word in arg.Split(':'))
        {
            if (nvals == maxIter)
                throw Xt.Param($"{ext}: Too many components for option \"--{option}\" (max: {maxIter})\n");
            if (word.Length == 0) { nvals++; continue; }
            var port = PortByName(word) ?? throw Xt.Param($"Port \"{word}\" does not resolve to anything.\n");
            if (nvals < 2) range[nvals] = (ushort)port;
            nvals++;
        }
        if (nvals == 1) range[1] = range[0];
        return (range[0], range[1]);
    }
}
