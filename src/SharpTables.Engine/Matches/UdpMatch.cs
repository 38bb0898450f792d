using SharpTables.Rules.Extensions.Udp;

namespace SharpTables.Engine.Matches;

/// <summary>
/// <c>-m udp</c>. With a port condition iptables-nft 1.8.9 emits native payload compares (see
/// <see cref="NftPortMatch"/>, including the either-port-differs quirk the model records as
/// <see cref="UdpMatch.InvertAsPair"/>); only a match without conditions stays xt_udp.
/// </summary>
public sealed class UdpMatchCompiler : MatchCompiler<UdpMatch>
{
    protected override CompiledMatch Compile(UdpMatch m, CompileContext ctx)
    {
        if (m.IsXtMatch) return XtUdp.Instance;
        // The model's properties are what the match's own expressions test (inverted full
        // ranges vanished, ":N" inverted became "N+1:65535").
        var ports = new NftPortMatch(new PortTest(m.SourceMin, m.SourceMax, m.InvertSource),
                                     new PortTest(m.DestMin, m.DestMax, m.InvertDest));
        return new NativeUdp(ports);
    }

    private sealed class NativeUdp(NftPortMatch ports) : CompiledMatch
    {
        public override bool Matches(Packet p, ref bool hotdrop) => ports.Matches(p);
    }

    /// <summary>xt_tcpudp's udp_mt for a match without conditions: every full UDP header matches.</summary>
    private sealed class XtUdp : CompiledMatch
    {
        public static readonly XtUdp Instance = new();

        public override bool Matches(Packet p, ref bool hotdrop)
        {
            if (XtPacket.FragmentOffset(p) != 0) return false;
            if (XtPacket.HasTransportBytes(p, 0, 8)) return true;
            hotdrop = true;
            return false;
        }
    }
}
