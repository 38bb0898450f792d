using SharpTables.Rules.Model;

namespace SharpTables.Engine;

public sealed partial class CompiledRuleset
{
    private CompiledRuleset(EngineState state, Ruleset? ipv4, Ruleset? ipv6) { }
}
