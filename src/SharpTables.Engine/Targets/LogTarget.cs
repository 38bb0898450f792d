using SharpTables.Engine.Output;
using SharpTables.Rules.Extensions.Log;

namespace SharpTables.Engine.Targets;

/// <summary>Compiles <c>-j LOG</c> (xt_LOG / nft_log with the syslog logger).</summary>
public sealed class LogTargetCompiler : TargetCompiler<LogTarget>
{
    /// <inheritdoc/>
    protected override CompiledTarget Compile(LogTarget target, CompileContext ctx) =>
        new CompiledLogTarget(target.Level, target.Prefix, target.Flags);
}

/// <summary>
/// Reports the kernel's log line for the packet to the observer (<see cref="IEngineObserver.OnLog"/>)
/// and lets the packet go on to the next rule (XT_CONTINUE). Only the line itself is allocated.
/// </summary>
public sealed class CompiledLogTarget(byte level, string prefix, LogFlags flags) : CompiledTarget
{
    /// <summary>A formatter per thread: packets may be logged on several at once.</summary>
    [ThreadStatic] private static LogFormatter? t_formatter;

    /// <inheritdoc/>
    public override TargetVerdict Execute(Packet p, in TargetContext ctx)
    {
        string text = (t_formatter ??= new LogFormatter()).Format(p, prefix, flags);
        ctx.State.Observer.OnLog(new LogRecord(level, text, p.Number, prefix));
        return TargetVerdict.Continue;
    }
}
