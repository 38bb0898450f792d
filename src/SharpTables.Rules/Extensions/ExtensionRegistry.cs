using System.Reflection;

namespace SharpTables.Rules.Extensions;

/// <summary>
/// Every match and target extension, found by reflection: an extension is a sealed class
/// deriving from <see cref="MatchExtension"/> or <see cref="TargetExtension"/> with a public
/// parameterless constructor. Adding an extension is adding its file. Two extensions claiming
/// the same name is a programming error and throws.
/// </summary>
public static class ExtensionRegistry
{
    private static readonly Dictionary<string, MatchExtension> s_matches = new(StringComparer.Ordinal);
    private static readonly Dictionary<string, TargetExtension> s_targets = new(StringComparer.Ordinal);

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

    private static void Add<T>(Dictionary<string, T> map, T ext) where T : Extension
    {
        foreach (var name in ext.Aliases.Prepend(ext.Name))
            if (!map.TryAdd(name, ext))
                throw new InvalidOperationException($"extension name '{name}' registered twice ({map[name].GetType().Name}, {ext.GetType().Name})");
    }

    /// <summary>Match modules are looked up case-sensitively first, then lower-cased (as xtables does).</summary>
    public static MatchExtension? FindMatch(string name) =>
        s_matches.TryGetValue(name, out var m) ? m : s_matches.GetValueOrDefault(name.ToLowerInvariant());

    public static TargetExtension? FindTarget(string name) => s_targets.GetValueOrDefault(name);

    public static IEnumerable<MatchExtension> Matches => s_matches.Values.Distinct();
    public static IEnumerable<TargetExtension> Targets => s_targets.Values.Distinct();
}
