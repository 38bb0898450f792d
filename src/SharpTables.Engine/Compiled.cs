using System.Reflection;
using SharpTables.Rules.Extensions;
using SharpTables.Rules.Model;

namespace SharpTables.Engine;

/// <summary>
/// A match of one rule, compiled for the packet path. <see cref="Matches"/> must not allocate.
/// Set <paramref name="hotdrop"/> to drop the packet at once (the kernel's par->hotdrop, e.g. a
/// TCP header too short to read).
/// </summary>
public abstract class CompiledMatch
{
    public abstract bool Matches(Packet p, ref bool hotdrop);
}

/// <summary>What a target tells the chain walker (NF_* verdicts plus XT_CONTINUE and XT_RETURN).</summary>
public enum TargetVerdict : byte
{
    /// <summary>XT_CONTINUE: go on with the next rule (LOG, MARK, …).</summary>
    Continue,
    Accept,
    Drop,
    /// <summary>XT_RETURN: back to the calling chain.</summary>
    Return,
    /// <summary>NF_QUEUE: hand to userspace (see <see cref="Packet"/> for the queue number).</summary>
    Queue,
    /// <summary>NF_STOLEN: the target consumed the packet.</summary>
    Stolen,
}

/// <summary>A target of one rule, compiled. <see cref="Execute"/> must not allocate except to report events.</summary>
public abstract class CompiledTarget
{
    public abstract TargetVerdict Execute(Packet p, in TargetContext ctx);
}

/// <summary>Where a target runs: the engine state, the table and chain, and the hook.</summary>
public readonly struct TargetContext(EngineState state, string table, string chain, int ruleNumber)
{
    public EngineState State { get; } = state;
    public string Table { get; } = table;
    public string Chain { get; } = chain;
    /// <summary>1-based rule number in its chain.</summary>
    public int RuleNumber { get; } = ruleNumber;
}

/// <summary>What a compiler sees about the rule being compiled.</summary>
public sealed class CompileContext
{
    public required EngineState State { get; init; }
    public required Family Family { get; init; }
    public required string Table { get; init; }
    public required string Chain { get; init; }
    public required Rule Rule { get; init; }
    /// <summary>Position of the match within the rule (for per-rule state such as limit buckets).</summary>
    public int MatchIndex { get; init; }
}

/// <summary>Turns one kind of parsed match (an instance type from the Rules project) into a <see cref="CompiledMatch"/>.</summary>
public interface IMatchCompiler
{
    /// <summary>The <see cref="MatchInstance"/> subclass this compiler handles.</summary>
    Type InstanceType { get; }
    CompiledMatch Compile(MatchInstance match, CompileContext ctx);
}

/// <summary>Turns one kind of parsed target into a <see cref="CompiledTarget"/>.</summary>
public interface ITargetCompiler
{
    Type InstanceType { get; }
    CompiledTarget Compile(TargetInstance target, CompileContext ctx);
}

/// <summary>Finds every compiler in this assembly by reflection (one class per extension, as the Rules side does).</summary>
public static class CompilerRegistry
{
    private static readonly Dictionary<Type, IMatchCompiler> Matches = new();
    private static readonly Dictionary<Type, ITargetCompiler> Targets = new();

    static CompilerRegistry()
    {
        foreach (var t in typeof(CompilerRegistry).Assembly.GetTypes())
        {
            if (t.IsAbstract || t.IsInterface || t.GetConstructor(Type.EmptyTypes) == null) continue;
            if (typeof(IMatchCompiler).IsAssignableFrom(t))
            {
                var c = (IMatchCompiler)Activator.CreateInstance(t)!;
                if (!Matches.TryAdd(c.InstanceType, c))
                    throw new InvalidOperationException($"two match compilers for {c.InstanceType.Name}");
            }
            if (typeof(ITargetCompiler).IsAssignableFrom(t))
            {
                var c = (ITargetCompiler)Activator.CreateInstance(t)!;
                if (!Targets.TryAdd(c.InstanceType, c))
                    throw new InvalidOperationException($"two target compilers for {c.InstanceType.Name}");
            }
        }
    }

    public static IMatchCompiler? FindMatch(Type instanceType) => Matches.GetValueOrDefault(instanceType);
    public static ITargetCompiler? FindTarget(Type instanceType) => Targets.GetValueOrDefault(instanceType);

    public static IEnumerable<Type> MatchTypes => Matches.Keys;
    public static IEnumerable<Type> TargetTypes => Targets.Keys;

    public static CompiledMatch CompileMatch(MatchInstance m, CompileContext ctx) =>
        (FindMatch(m.GetType()) ?? throw new NotSupportedException($"the engine cannot evaluate -m {m.SaveName} yet")).Compile(m, ctx);

    public static CompiledTarget CompileTarget(TargetInstance t, CompileContext ctx) =>
        (FindTarget(t.GetType()) ?? throw new NotSupportedException($"the engine cannot run -j {t.SaveName} yet")).Compile(t, ctx);
}

/// <summary>Base for the usual one-type compilers: <c>sealed class TcpCompiler : MatchCompiler&lt;TcpMatch&gt;</c>.</summary>
public abstract class MatchCompiler<T> : IMatchCompiler where T : MatchInstance
{
    public Type InstanceType => typeof(T);
    public CompiledMatch Compile(MatchInstance match, CompileContext ctx) => Compile((T)match, ctx);
    protected abstract CompiledMatch Compile(T match, CompileContext ctx);
}

public abstract class TargetCompiler<T> : ITargetCompiler where T : TargetInstance
{
    public Type InstanceType => typeof(T);
    public CompiledTarget Compile(TargetInstance target, CompileContext ctx) => Compile((T)target, ctx);
    protected abstract CompiledTarget Compile(T target, CompileContext ctx);
}
