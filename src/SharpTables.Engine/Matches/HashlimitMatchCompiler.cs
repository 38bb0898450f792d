using SharpTables.Engine.State;
using SharpTables.Rules.Extensions.Hashlimit;

namespace SharpTables.Engine.Matches;

/// <summary><c>-m hashlimit</c> (xt_hashlimit.c revision 3): compiling takes a reference to the named table.</summary>
public sealed class HashlimitMatchCompiler : MatchCompiler<HashlimitMatch>
{
    protected override CompiledMatch Compile(HashlimitMatch match, CompileContext ctx)
    {
        var tables = ctx.State.Hashlimit;
        return new CompiledHashlimitMatch(tables, tables.Acquire(match, ctx.Family), match.Mode);
    }
}

/// <summary>
/// A compiled hashlimit match. It holds a reference to its table: dispose it when its ruleset
/// is retired (after the replacing ruleset was compiled) so that unused tables disappear.
/// </summary>
public sealed class CompiledHashlimitMatch : CompiledMatch, IDisposable
{
    private readonly HashlimitTables _owner;
    private readonly HashlimitMode _mode;
    private bool _disposed;

    internal CompiledHashlimitMatch(HashlimitTables owner, HashlimitTable table, HashlimitMode mode)
    {
        _owner = owner;
        Table = table;
        _mode = mode;
    }

    /// <summary>The table this match uses (shared with other rules of the same name and family).</summary>
    public HashlimitTable Table { get; }

    public override bool Matches(Packet p, ref bool hotdrop) => Table.Match(p, _mode, ref hotdrop);

    /// <summary>hashlimit_mt_destroy: releases the table (once).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _owner.Release(Table);
    }
}
