using SharpTables.Rules.Extensions.Icmp;

namespace SharpTables.Engine.Matches;

/// <summary><c>-m icmp</c>: xt_tcpudp's icmp_match (iptables-nft keeps the xt module).</summary>
public sealed class IcmpMatchCompiler : MatchCompiler<IcmpMatch>
{
    protected override CompiledMatch Compile(IcmpMatch m, CompileContext ctx) =>
        new Compiled(m.Type, m.CodeMin, m.CodeMax, m.Invert);

    private sealed class Compiled(byte type, byte codeMin, byte codeMax, bool invert) : CompiledMatch
    {
        /// <summary>sizeof(struct icmphdr): type, code, checksum and the 4-byte rest.</summary>
        private const int HeaderLength = 8;

        public override bool Matches(Packet p, ref bool hotdrop)
        {
            if (XtPacket.FragmentOffset(p) != 0) return false;
            if (!XtPacket.HasTransportBytes(p, 0, HeaderLength))
            {
                hotdrop = true;
                return false;
            }
            byte t = XtPacket.TransportU8(p, 0), c = XtPacket.TransportU8(p, 1);
            // type 0xFF ("any") matches every ICMP packet, its code range included or not
            bool hit = type == 0xFF || (t == type && c >= codeMin && c <= codeMax);
            return hit ^ invert;
        }
    }
}
