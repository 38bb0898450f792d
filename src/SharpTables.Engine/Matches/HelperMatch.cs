using SharpTables.Rules.Extensions.Helper;

namespace SharpTables.Engine.Matches;

/// <summary>
/// <c>-m helper</c> (xt_helper): the packet's connection was expected by a helper of that name.
/// The control connection itself does not match, its data connections do. The kernel compares
/// only as many bytes as the helper's own name has, so <c>--helper ftp-2121</c> matches "ftp";
/// an empty name matches any helper.
/// </summary>
public sealed class HelperMatchCompiler : MatchCompiler<HelperMatch>
{
    protected override CompiledMatch Compile(HelperMatch m, CompileContext ctx) => new Compiled(m.Name, m.Invert);

    private sealed class Compiled(string name, bool invert) : CompiledMatch
    {
        public override bool Matches(Packet p, ref bool hotdrop)
        {
            if (p.Conn?.Master?.Helper is not { } helper) return invert;
            if (name.Length == 0) return !invert;
            bool same = name.Length >= helper.Name.Length && string.CompareOrdinal(name, 0, helper.Name, 0, helper.Name.Length) == 0;
            return same != invert;
        }
    }
}
