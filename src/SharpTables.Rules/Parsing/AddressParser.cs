using SharpTables.Packets;

namespace SharpTables.Rules.Parsing;

/// <summary>
/// <c>-s</c>/<c>-d</c> argument parsing as libxtables' xtables_ipparse_multiple: a comma-separated
/// list of <c>host[/mask]</c>, mask as prefix length or dotted quad, host numeric or a name
/// from /etc/hosts; each address is masked.
/// </summary>
public static class AddressParser
{
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

    public static readonly HostsFile System = Load("/etc/hosts");

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
                if (f.Length < 2 || !Ipv4.TryParse(f[0], out uint a) || f[0].Count(c => c == '.') != 3) continue;
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

    /// <summary>The first name of an address, for -L without -n.</summary>
    public string? NameOf(uint address)
    {
        foreach (var (a, names) in _entries) if (a == address) return names[0];
        return null;
    }
}
