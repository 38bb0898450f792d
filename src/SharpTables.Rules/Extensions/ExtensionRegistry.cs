using System.Reflection;
using SharpTables.Rules.Model;

namespace SharpTables.Rules.Extensions;

/// <summary>
/// Every match and target extension, found by reflection: an extension is a sealed class
/// deriving from <see cref="MatchExtension"/> or <see cref="TargetExtension"/> with a public
/// parameterless constructor. Adding an extension is adding its file. A name may belong to one
/// extension per family (ip6tables' REJECT is not iptables' REJECT); two extensions claiming the
/// same name for the same family is a programming error and throws.
/// </summary>
public static class ExtensionRegistry
{
    private static readonly Family[] s_families = [Family.IPv4, Family.IPv6];
    private static readonly Dictionary<string, List<MatchExtension>> s_matches = new(StringComparer.Ordinal);
    private static readonly Dictionary<string, List<TargetExtension>> s_targets = new(StringComparer.Ordinal);

    static ExtensionRegistry()
    {
        foreach (var type in typeof(ExtensionRegistry).Assembly.GetTypes())
        {
            if (type.IsAbstract || type.GetConstructor(Type.EmptyTypes) == null) continue;
            if (typeof(MatchExtension).IsAssignableFrom(type))
                Add(s_matches, (MatchExtension)Activator.CreateInstance(type)!);
            else if (typeof(TargetExtension).IsAssignableFrom(type))
                Add(s_targets, (TargetExtension)Activator.CreateInstance(type)!);
        }
    }

    private static void Add<T>(Dictionary<string, List<T>> map, T ext) where T : Extension
    {
        foreach (var name in ext.Aliases.Prepend(ext.Name))
        {
            if (!map.TryGetValue(name, out var list)) map[name] = list = [];
            foreach (var other in list)
                foreach (var f in s_families)
                    if (other.Supports(f) && ext.Supports(f))
                        throw new InvalidOperationException($"extension name '{name}' registered twice for {f} ({other.GetType().Name}, {ext.GetType().Name})");
            list.Add(ext);
        }
    }

    private static T? Find<T>(Dictionary<string, List<T>> map, string name, Family? family) where T : Extension
    {
        if (!map.TryGetValue(name, out var list)) return null;
        foreach (var e in list)
            if (family == null || e.Supports(family.Value)) return e;
        return null;
    }

    /// <summary>
    /// The match module of that name for the family (any family when null); looked up
    /// case-sensitively first, then lower-cased (as xtables does).
    /// </summary>
    public static MatchExtension? FindMatch(string name, Family? family = null) =>
        Find(s_matches, name, family) ?? Find(s_matches, name.ToLowerInvariant(), family);

    /// <summary>The target module of that name for the family (any family when null).</summary>
    public static TargetExtension? FindTarget(string name, Family? family = null) => Find(s_targets, name, family);

    /// <summary>Every match extension, of both families.</summary>
    public static IEnumerable<MatchExtension> Matches => s_matches.Values.SelectMany(l => l).Distinct();
    /// <summary>Every target extension, of both families.</summary>
    public static IEnumerable<TargetExtension> Targets => s_targets.Values.SelectMany(l => l).Distinct();
}
