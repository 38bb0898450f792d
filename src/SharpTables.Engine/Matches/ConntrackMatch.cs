using SharpTables.Engine.Conntrack;
using SharpTables.Rules.Extensions.Conntrack;

namespace SharpTables.Engine.Matches;

/// <summary>
/// <c>-m conntrack</c> revision 3 (xt_conntrack's conntrack_mt). The state test sees INVALID
/// (no entry), UNTRACKED, or the ctinfo bit plus the SNAT/DNAT pseudo states from the entry's
/// IPS_SRC_NAT/IPS_DST_NAT status. Every other test needs an entry: without one the match is
/// decided by the state test alone (no state test = no match, even for inverted options).
/// </summary>
public sealed class ConntrackMatchCompiler : MatchCompiler<ConntrackMatch>
{
    private const ushort StateSnat = (ushort)ConntrackStates.Snat, StateDnat = (ushort)ConntrackStates.Dnat;

    protected override CompiledMatch Compile(ConntrackMatch m, CompileContext ctx) => new Compiled(m, ctx.State.Clock);

    private sealed class Compiled : CompiledMatch
    {
        private readonly ConntrackFlags _flags, _invert;
        private readonly ushort _states, _status;
        private readonly byte _proto;
        private readonly ConntrackAddress _origSrc, _origDst, _replSrc, _replDst;
        private readonly PortTest _origSrcPort, _origDstPort, _replSrcPort, _replDstPort;
        private readonly uint _expiresMin, _expiresMax;
        private readonly EngineClock _clock;

        public Compiled(ConntrackMatch m, EngineClock clock)
        {
            _clock = clock;
            _flags = m.MatchFlags;
            _invert = m.InvertFlags;
            _states = (ushort)m.States;
            _status = (ushort)m.Status;
            _proto = m.Protocol;
            (_origSrc, _origDst, _replSrc, _replDst) = (m.OrigSource, m.OrigDestination, m.ReplySource, m.ReplyDestination);
            _origSrcPort = Ports(m, ConntrackFlags.OrigSrcPort, m.OrigSourcePorts);
            _origDstPort = Ports(m, ConntrackFlags.OrigDstPort, m.OrigDestinationPorts);
            _replSrcPort = Ports(m, ConntrackFlags.ReplSrcPort, m.ReplySourcePorts);
            _replDstPort = Ports(m, ConntrackFlags.ReplDstPort, m.ReplyDestinationPorts);
            (_expiresMin, _expiresMax) = (m.ExpiresMin, m.ExpiresMax);
        }

        private static PortTest Ports(ConntrackMatch m, ConntrackFlags flag, ConntrackPorts ports) =>
            new(ports.Low, ports.High, m.Inverted(flag));

        private bool Has(ConntrackFlags f) => (_flags & f) != 0;

        /// <summary>The NF_INVF pattern: a test passes when its result differs from its invert flag.</summary>
        private bool Passes(ConntrackFlags f, bool result) => result != ((_invert & f) != 0);

        public override bool Matches(Packet p, ref bool hotdrop)
        {
            var ct = p.Untracked ? null : p.Conn;
            if (Has(ConntrackFlags.State))
            {
                ushort bits = p.StateBit;
                if (ct != null)
                {
                    if ((ct.Status & ConnStatus.SrcNat) != 0) bits |= StateSnat;
                    if ((ct.Status & ConnStatus.DstNat) != 0) bits |= StateDnat;
                }
                if (!Passes(ConntrackFlags.State, (_states & bits) != 0)) return false;
            }
            if (ct == null) return Has(ConntrackFlags.State);

            // CTINFO2DIR: ESTABLISHED_REPLY and RELATED_REPLY are the reply direction; the
            // "inverted" direction flag means --ctdir REPLY.
            if (Has(ConntrackFlags.Direction) && !Passes(ConntrackFlags.Direction, p.CtInfo < CtInfo.EstablishedReply)) return false;

            if (Has(ConntrackFlags.OrigSrc) && !Passes(ConntrackFlags.OrigSrc, AddressMatch(ct.Original.Source, _origSrc))) return false;
            if (Has(ConntrackFlags.OrigDst) && !Passes(ConntrackFlags.OrigDst, AddressMatch(ct.Original.Destination, _origDst))) return false;
            if (Has(ConntrackFlags.ReplSrc) && !Passes(ConntrackFlags.ReplSrc, AddressMatch(ct.Reply.Source, _replSrc))) return false;
            if (Has(ConntrackFlags.ReplDst) && !Passes(ConntrackFlags.ReplDst, AddressMatch(ct.Reply.Destination, _replDst))) return false;

            // ct_proto_port_check_v3: the port fields are the tuple's raw 16-bit words (for ICMP
            // the echo id and type<<8|code), whatever the protocol.
            if (Has(ConntrackFlags.Proto) && !Passes(ConntrackFlags.Proto, ct.Original.Protocol == _proto)) return false;
            if (Has(ConntrackFlags.OrigSrcPort) && !_origSrcPort.Matches(ct.Original.SourcePort)) return false;
            if (Has(ConntrackFlags.OrigDstPort) && !_origDstPort.Matches(ct.Original.DestinationPort)) return false;
            if (Has(ConntrackFlags.ReplSrcPort) && !_replSrcPort.Matches(ct.Reply.SourcePort)) return false;
            if (Has(ConntrackFlags.ReplDstPort) && !_replDstPort.Matches(ct.Reply.DestinationPort)) return false;

            if (Has(ConntrackFlags.Status) && !Passes(ConntrackFlags.Status, (_status & (uint)ct.Status) != 0)) return false;

            if (Has(ConntrackFlags.Expires))
            {
                // nf_ct_expires: the signed distance of the 32-bit timeout from now, at least 0, in whole seconds.
                // An unconfirmed entry still holds its timeout relative (confirmation adds the time):
                // minus a clock that has run more than a few minutes that is negative, so 0.
                int left = ct.Has(Conntrack.ConnStatus.Confirmed) ? Math.Max(0, unchecked((int)(ct.Timeout - _clock.Jiffies32))) : 0;
                uint seconds = (uint)(left / EngineClock.Hz);
                if (!Passes(ConntrackFlags.Expires, seconds >= _expiresMin && seconds <= _expiresMax)) return false;
            }
            return true;
        }

        /// <summary>conntrack_addrcmp for IPv4: ((tuple address ^ rule address) &amp; mask) == 0.</summary>
        private static bool AddressMatch(UInt128 tupleAddress, ConntrackAddress rule) =>
            (((uint)tupleAddress ^ rule.Address) & rule.Mask) == 0;
    }
}
