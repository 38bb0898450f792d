using SharpTables.Rules.Model;

namespace SharpTables.Rules.Extensions.Set;

/// <summary>An ipset as the set match sees it: its kernel index, name and family.</summary>
/// <param name="Family">null for a set usable from both families (NFPROTO_UNSPEC).</param>
public sealed record IpSetInfo(ushort Index, string Name, Family? Family);

/// <summary>
/// The ipsets that exist (the kernel's ip_set lists, reached by iptables through the
/// SO_IP_SET socket option). Set matches and targets look names up here.
/// </summary>
public interface IIpSetRegistry
{
    IpSetInfo? FindByName(string name);
    IpSetInfo? FindByIndex(ushort index);
}

/// <summary>The registry in use. SharpTables has no ipset store yet, so by default it knows no sets.</summary>
public static class IpSetRegistry
{
    public static IIpSetRegistry Current { get; set; } = Empty.Instance;

    /// <summary>A registry without sets.</summary>
    public sealed class Empty : IIpSetRegistry
    {
        public static readonly Empty Instance = new();
        public IpSetInfo? FindByName(string name) => null;
        public IpSetInfo? FindByIndex(ushort index) => null;
    }

    /// <summary>A fixed list of sets (for tests and for embedding).</summary>
    public sealed class Fixed(IEnumerable<IpSetInfo> sets) : IIpSetRegistry
    {
        private readonly List<IpSetInfo> _sets = [.. sets];
        public IpSetInfo? FindByName(string name) => _sets.FirstOrDefault(s => s.Name == name);
        public IpSetInfo? FindByIndex(ushort index) => _sets.FirstOrDefault(s => s.Index == index);
    }
}
