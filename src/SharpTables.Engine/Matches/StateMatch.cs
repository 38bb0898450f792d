using SharpTables.Rules.Extensions.Conntrack;
using SharpTables.Rules.Extensions.State;

namespace SharpTables.Engine.Matches;

/// <summary>
/// <c>-m state</c>: iptables-nft loads it as xt_conntrack revision 3 with only the state test,
/// so it sees the same state bits as <c>--ctstate</c> (<see cref="Packet.StateBit"/>).
/// </summary>
public sealed class StateMatchCompiler : MatchCompiler<StateMatch>
{
    protected override CompiledMatch Compile(StateMatch m, CompileContext ctx) => new Compiled((ushort)m.States, m.Invert);

    private sealed class Compiled(ushort states, bool invert) : CompiledMatch
    {
        public override bool Matches(Packet p, ref bool hotdrop) =>
            ((states & p.StateBit) != 0) ^ invert;
    }
}
