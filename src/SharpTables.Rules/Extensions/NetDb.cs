using System.Reflection;

namespace SharpTables.Rules.Extensions;

/// <summary>
/// Protocol and service names, from Debian netbase 6.4's /etc/protocols and /etc/services
/// (embedded, so results do not depend on the host). iptables resolves names through
/// getprotobyname/getservbyname against the same files.
/// </summary>
public static class NetDb
{
    private static readonly Dictionary<string, int> s_protoByName = new(StringComparer.Ordinal);
    private static readonly Dictionary<int, string> s_protoByNumber = [];
    private static readonly Dictionary<(string, string), int> s_portByName = [];
    private static readonly Dictionary<(int, string), string> s_nameByPort = [];

    /// <summary>libxtables' xtables_chain_protos: names preferred over /etc/protocols.</summary>
    private static readonly (string Name, int Number)[] s_chainProtos =
    [
        ("tcp", 6), ("sctp", 132), ("udp", 17), ("udplite", 136), ("icmp", 1), ("icmpv6", 58),
        ("ipv6-icmp", 58), ("esp", 50), ("ah", 51), ("ipv6-mh", 135), ("mh", 135), ("all", 0),
    ];

    static NetDb()
    {
        foreach (var (name, num) in Read("protocols.txt"))
        {
            int n = int.Parse(num);
            s_protoByName.TryAdd(name, n);
            s_protoByNumber.TryAdd(n, name);
        }
        foreach (var (name, portProto) in Read("services.txt"))
        {
            var parts = portProto.Split('/');
            int port = int.Parse(parts[0]);
            s_portByName.TryAdd((name, parts[1]), port);
            s_nameByPort.TryAdd((port, parts[1]), name);
        }
    }

    private static IEnumerable<(string, string)> Read(string file)
    {
        var asm = Assembly.GetExecutingAssembly();
        using var s = asm.GetManifestResourceStream("SharpTables.Rules.Data." + file)!;
        using var r = new StreamReader(s);
        while (r.ReadLine() is { } line)
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length >= 2) yield return (f[0], f[1]);
        }
    }

    /// <summary>
    /// proto_to_name(proto, nolookup) of iptables 1.8.9: /etc/protocols first (so 58 is
    /// "ipv6-icmp" and 135 "mobility-header"), then libxtables' short list (0 is "all").
    /// </summary>
    public static string? ProtocolName(int number, bool lookup = true)
    {
        if (number != 0 && lookup && s_protoByNumber.TryGetValue(number, out var name)) return name;
        foreach (var (n, v) in s_chainProtos) if (v == number) return n;
        return null;
    }

    public static int? ProtocolNumber(string name)
    {
        if (s_protoByName.TryGetValue(name, out int n)) return n;
        foreach (var (cn, v) in s_chainProtos) if (cn == name) return v;
        return null;
    }

    public static int? Port(string name, string proto) =>
        s_portByName.TryGetValue((name, proto), out int p) ? p : null;

    public static string? ServiceName(int port, string proto) =>
        s_nameByPort.GetValueOrDefault((port, proto));
}
