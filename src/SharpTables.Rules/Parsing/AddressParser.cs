using SharpTables.Packets;

namespace SharpTables.Rules.Parsing;

/// <summary>
/// <c>-s</c>/<c>-d</c> argument parsing as libxtables' xtables_ipparse_multiple (IPv4) and
/// xtables_ip6parse_multiple (IPv6): a comma-separated list of <c>host[/mask]</c>, the mask a
/// prefix length or an address, the host numeric or a name from /etc/hosts; each address is masked.
/// </summary>
public static class AddressParser
{
    /// <summary>The address list of <paramref name="spec"/> for the family, as <see cref="UInt128"/> (IPv4 in the low 32 bits).</summary>
    public static List<(UInt128 Address, UInt128 Mask)> ParseMultiple(Model.Family family, string spec, HostsFile? hosts = null)
    {
        if (family == Model.Family.IPv6) return ParseIpv6Multiple(spec, hosts);
        var result = new List<(UInt128, UInt128)>();
        foreach (var (a, m) in ParseIpv4Multiple(spec, hosts)) result.Add((a, m));
        return result;
    }

    /// <summary>
    /// xtables_ip6parse_multiple: leading blanks of each item are skipped; an item over 255
    /// characters is refused; the mask is an IPv6 address or a C number 0-128 (default /128);
    /// with a zero mask the host part is ignored ("any/0").
    /// </summary>
    public static List<(UInt128 Address, UInt128 Mask)> ParseIpv6Multiple(string spec, HostsFile? hosts = null)
    {
        var result = new List<(UInt128, UInt128)>();
        foreach (var raw in spec.Split(','))
        {
            var item = raw.TrimStart(' ', '\t', '\n', '\v', '\f', '\r');
            if (item.Length > 255) throw Xt.Param("Hostname too long");
            string host = item;
            UInt128 mask = UInt128.MaxValue;
            int slash = item.LastIndexOf('/');
            if (slash >= 0)
            {
                host = item[..slash];
                mask = ParseIpv6Mask(item[(slash + 1)..]);
            }
            if (mask == 0) host = "::";
            foreach (var a in ParseIpv6Host(host, hosts ?? HostsFile.System))
                result.Add((a & mask, mask));
        }
        return result;
    }

    /// <summary>parse_ip6mask: an IPv6 address, else a prefix length 0-128 (strtoul base 0).</summary>
    public static UInt128 ParseIpv6Mask(string mask)
    {
        if (Ipv6Text.TryParse(mask, out var m)) return m;
        if (!Ipv4.TryParseCUInt(mask, 128, out uint bits))
            throw Xt.Param($"invalid mask `{mask}' specified");
        return Ipv6Text.MaskFromPrefix((int)bits);
    }

    /// <summary>ip6parse_hostnetwork: a numeric address, else the IPv6 addresses /etc/hosts gives the name.</summary>
    private static IEnumerable<UInt128> ParseIpv6Host(string host, HostsFile hosts)
    {
        if (Ipv6Text.TryParse(host, out var a)) return [a];
        var found = hosts.Lookup6(host);
        if (found.Count > 0) return found;
        if (Ipv6Text.TryParseScoped(host, out a)) return [a];
        throw Xt.Param($"host/network `{host}' not found");
    }

    public static List<(uint Address, uint Mask)> ParseIpv4Multiple(string spec, HostsFile? hosts = null)
    {
        var result = new List<(uint, uint)>();
        foreach (var item in spec.Split(','))
        {
            string host = item;
            uint mask = uint.MaxValue;
            int slash = item.LastIndexOf('/');
            if (slash >= 0)
            {
                host = item[..slash];
                mask = ParseMask(item[(slash + 1)..]);
            }
            // "if a null mask is given, the name is ignored, like in any/0"
            if (mask == 0) host = "0.0.0.0";
            foreach (var a in ParseHost(host, hosts ?? HostsFile.System))
                result.Add((a & mask, mask));
        }
        return result;
    }

    public static uint ParseMask(string mask)
    {
        if (Ipv4.TryParseMask(mask, out uint m)) return m;
        if (!Ipv4.TryParseCUInt(mask, 32, out uint bits))
            throw Xt.Param($"invalid mask `{mask}' specified");
        return Ipv4.MaskFromPrefix((int)bits);
    }

    private static IEnumerable<uint> ParseHost(string host, HostsFile hosts)
    {
        if (Ipv4.TryParse(host, out uint a)) return [a];
        var found = hosts.Lookup(host);
        if (found.Count > 0) return found;
        throw Xt.Param($"host/network `{host}' not found");
    }
}

/// <summary>/etc/hosts, read once: the only name resolution SharpTables does (no DNS).</summary>
public sealed class HostsFile
{
    private readonly List<(uint Address, string[] Names)> _entries = [];
    private readonly List<(UInt128 Address, string[] Names)> _entries6 = [];

    private static readonly Lazy<HostsFile> s_system = new(() => Load("/etc/hosts"));
    private static readonly AsyncLocal<HostsFile?> s_override = new();

    /// <summary>/etc/hosts, or the file a caller put in place with <see cref="Use"/> (for this flow of execution only).</summary>
    public static HostsFile System => s_override.Value ?? s_system.Value;

    /// <summary>Resolves names through <paramref name="hosts"/> instead of /etc/hosts until disposed (tests, embedding).</summary>
    public static IDisposable Use(HostsFile hosts)
    {
        var previous = s_override.Value;
        s_override.Value = hosts;
        return new Restorer(() => s_override.Value = previous);
    }

    private sealed class Restorer(Action undo) : IDisposable
    {
        public void Dispose() => undo();
    }

    public static HostsFile Load(string path)
    {
        var h = new HostsFile();
        try
        {
            foreach (var raw in File.ReadLines(path))
            {
                var line = raw;
                int hash = line.IndexOf('#');
                if (hash >= 0) line = line[..hash];
                var f = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
                if (f.Length < 2) continue;
                if (Ipv6Text.TryParse(f[0], out var a6)) h._entries6.Add((a6, f[1..]));
                if (!Ipv4.TryParse(f[0], out uint a) || f[0].Count(c => c == '.') != 3) continue;
                h._entries.Add((a, f[1..]));
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        if (!h._entries.Any(e => e.Names.Contains("localhost")))
            h._entries.Add((0x7f000001, ["localhost"]));
        return h;
    }

    public List<uint> Lookup(string name)
    {
        var r = new List<uint>();
        foreach (var (a, names) in _entries)
            if (names.Contains(name, StringComparer.OrdinalIgnoreCase) && !r.Contains(a)) r.Add(a);
        return r;
    }

    /// <summary>The IPv6 addresses of a name (getaddrinfo with AF_INET6: IPv4 entries do not count).</summary>
    public List<UInt128> Lookup6(string name)
    {
        var r = new List<UInt128>();
        foreach (var (a, names) in _entries6)
            if (names.Contains(name, StringComparer.OrdinalIgnoreCase) && !r.Contains(a)) r.Add(a);
        return r;
    }

    /// <summary>The first name of an address, for -L without -n.</summary>
    public string? NameOf(uint address)
    {
        foreach (var (a, names) in _entries) if (a == address) return names[0];
        return null;
    }

    /// <summary>The first name of an IPv6 address (getnameinfo through /etc/hosts), for -L without -n.</summary>
    public string? NameOf6(UInt128 address)
    {
        foreach (var (a, names) in _entries6) if (a == address) return names[0];
        return null;
    }
}
