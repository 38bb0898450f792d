using SharpTables.Rules.Extensions.Owner;

namespace SharpTables.Engine.Matches;

/// <summary>
/// <c>-m owner</c> revision 1 (xt_owner's owner_mt) on the sending socket's owner
/// (<see cref="Packet.SocketUid"/>/<see cref="Packet.SocketGid"/>, -1 = no socket). Without a
/// socket the match holds only when every test is inverted (so <c>! --uid-owner 0</c> matches
/// forwarded-like packets and <c>--suppl-groups</c> never does). A kernel socket without a file
/// (<see cref="Packet.KernelSocket"/>: the replies of the TCP and ICMP control sockets) exists,
/// but its uid and gid tests fail unless inverted. Supplementary groups are not
/// modelled: only the primary group is compared.
/// </summary>
public sealed class OwnerMatchCompiler : MatchCompiler<OwnerMatch>
{
    protected override CompiledMatch Compile(OwnerMatch m, CompileContext ctx) =>
        new Compiled(m.Tests, m.Inverted, m.UidMin, m.UidMax, m.GidMin, m.GidMax);

    private sealed class Compiled(OwnerTests tests, OwnerTests inverted, uint uidMin, uint uidMax, uint gidMin, uint gidMax)
        : CompiledMatch
    {
        public override bool Matches(Packet p, ref bool hotdrop)
        {
            if (p.SocketUid < 0 && !p.KernelSocket) return (tests ^ inverted) == 0;
            // a socket exists but the rule says ! --socket-exists
            if ((tests & inverted & OwnerTests.Socket) != 0) return false;
            if (p.SocketUid < 0) return ((tests ^ inverted) & (OwnerTests.Uid | OwnerTests.Gid)) == 0;
            if ((tests & OwnerTests.Uid) != 0)
            {
                uint uid = (uint)p.SocketUid;
                if ((uid >= uidMin && uid <= uidMax) == ((inverted & OwnerTests.Uid) != 0)) return false;
            }
            if ((tests & OwnerTests.Gid) != 0)
            {
                uint gid = (uint)p.SocketGid;
                bool hit = p.SocketGid >= 0 && gid >= gidMin && gid <= gidMax;
                if (hit == ((inverted & OwnerTests.Gid) != 0)) return false;
            }
            return true;
        }
    }
}
