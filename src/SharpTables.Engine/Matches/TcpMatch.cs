using SharpTables.Rules.Extensions.Tcp;

namespace SharpTables.Engine.Matches;

/// <summary>
/// <c>-m tcp</c>. iptables-nft 1.8.9 (add_nft_tcp) keeps the xt_tcp module only for
/// <c>--tcp-option</c> and for a match without any condition; everything else becomes native
/// nftables payload expressions: the flags byte (when the mask is not empty), then the ports.
/// The two forms differ on bad packets: xt_tcp drops a short header or an offset-1 fragment
/// (hotdrop), the native form simply does not match.
/// </summary>
public sealed class TcpMatchCompiler : MatchCompiler<TcpMatch>
{
    protected override CompiledMatch Compile(TcpMatch m, CompileContext ctx)
    {
        var source = new PortTest(m.SourceMin, m.SourceMax, m.InvertSource);
        var dest = new PortTest(m.DestMin, m.DestMax, m.InvertDest);
        bool allZero = source.IsFull && !source.Invert && dest.IsFull && !dest.Invert
                       && m.FlagMask == 0 && m.FlagCompare == 0 && !m.InvertFlags;
        if (m.Option != 0 || allZero)
            return new XtTcp(source, dest, (byte)m.FlagMask, (byte)m.FlagCompare, m.InvertFlags, m.Option, m.InvertOption);
        return new NativeTcp(new NftPortMatch(source, dest), (byte)m.FlagMask, (byte)m.FlagCompare, m.InvertFlags);
    }

    /// <summary>
    /// The native form: <c>tcp flags &amp; MASK ==/!= CMP</c> (skipped when MASK is 0, even if a
    /// compare value was given), then the port expressions.
    /// </summary>
    private sealed class NativeTcp(NftPortMatch ports, byte mask, byte compare, bool invertFlags) : CompiledMatch
    {
        public override bool Matches(Packet p, ref bool hotdrop)
        {
            if (mask != 0)
            {
                if (!XtPacket.NftTransportLoad(p, 13, 1)) return false;
                if (((XtPacket.TransportU8(p, 13) & mask) == compare) == invertFlags) return false;
            }
            return ports.Matches(p);
        }
    }

    /// <summary>xt_tcpudp's tcp_mt.</summary>
    private sealed class XtTcp(PortTest source, PortTest dest, byte mask, byte compare, bool invertFlags, byte option, bool invertOption)
        : CompiledMatch
    {
        private const int HeaderLength = 20;

        public override bool Matches(Packet p, ref bool hotdrop)
        {
            int fragoff = XtPacket.FragmentOffset(p);
            if (fragoff != 0)
            {
                // "Don't allow a fragment of TCP 8 bytes in": an offset-1 fragment could overwrite the flags.
                if (fragoff == 1) hotdrop = true;
                return false;
            }
            if (!XtPacket.HasTransportBytes(p, 0, HeaderLength))
            {
                hotdrop = true;
                return false;
            }
            int th = XtPacket.TransportOffset(p);
            if (!source.Matches(XtPacket.TransportU16(p, 0))) return false;
            if (!dest.Matches(XtPacket.TransportU16(p, 2))) return false;
            if (((p.Buffer[th + 13] & mask) == compare) == invertFlags) return false;
            if (option == 0) return true;
            int headerBytes = (p.Buffer[th + 12] >> 4) * 4;
            if (headerBytes < HeaderLength)
            {
                hotdrop = true;
                return false;
            }
            return FindOption(p, headerBytes - HeaderLength, ref hotdrop);
        }

        /// <summary>tcp_find_option: walk the options; the whole option area must be in the packet.</summary>
        private bool FindOption(Packet p, int optionLength, ref bool hotdrop)
        {
            if (optionLength == 0) return invertOption;
            if (!XtPacket.HasTransportBytes(p, HeaderLength, optionLength))
            {
                hotdrop = true;
                return false;
            }
            var opt = p.Buffer.AsSpan(XtPacket.TransportOffset(p) + HeaderLength, optionLength);
            for (int i = 0; i < opt.Length;)
            {
                if (opt[i] == option) return !invertOption;
                if (opt[i] < 2)
                {
                    i++;
                    continue;
                }
                if (i + 1 >= opt.Length) break;
                i += opt[i + 1] == 0 ? 1 : opt[i + 1];
            }
            return invertOption;
        }
    }
}
