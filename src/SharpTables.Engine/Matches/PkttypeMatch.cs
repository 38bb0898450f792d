using SharpTables.Rules.Extensions.Pkttype;

namespace SharpTables.Engine.Matches;

/// <summary>
/// <c>-m pkttype</c> (xt_pkttype): skb->pkt_type, except that a PACKET_LOOPBACK packet counts as
/// multicast when it is IPv6 or goes to an IPv4 multicast address, and as broadcast otherwise.
/// </summary>
public sealed class PkttypeMatchCompiler : MatchCompiler<PkttypeMatch>
{
    protected override CompiledMatch Compile(PkttypeMatch m, CompileContext ctx) => new Compiled((PacketType)(byte)m.Type, m.Invert);

    private sealed class Compiled(PacketType type, bool invert) : CompiledMatch
    {
        public override bool Matches(Packet p, ref bool hotdrop)
        {
            PacketType actual = p.PktType;
            if (actual == PacketType.Loopback)
            {
                bool multicast = p.Info.IsIPv6 || ((uint)p.Info.Destination >> 28) == 0xE;
                actual = multicast ? PacketType.Multicast : PacketType.Broadcast;
            }
            return (actual == type) ^ invert;
        }
    }
}
