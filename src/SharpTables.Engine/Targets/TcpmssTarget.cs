using System.Buffers.Binary;
using SharpTables.Engine.Matches;
using SharpTables.Rules.Extensions.Tcpmss;

namespace SharpTables.Engine.Targets;

/// <summary>
/// <c>-j TCPMSS</c> (xt_TCPMSS's tcpmss_mangle_packet). It works on any TCP packet the rule lets
/// through (the SYN requirement is a legacy-only rule check): an MSS option larger than the new
/// value is lowered (never raised); without one, and with no payload after the header, a
/// 4-byte MSS option (at most 536 for IPv4, 1220 for IPv6) is inserted right after the fixed
/// header, growing the packet. A header that cannot be read drops the packet. An MSS value at
/// an odd offset gets the kernel's wrong checksum update (see below).
/// <para>
/// Path MTU clamping needs interface MTUs, which <see cref="HostNetwork"/> does not model:
/// lo counts as 65536 and every other interface as 1500 (the usual Ethernet value).
/// </para>
/// </summary>
public sealed class TcpmssTargetCompiler : TargetCompiler<TcpmssTarget>
{
    protected override CompiledTarget Compile(TcpmssTarget t, CompileContext ctx) =>
        new Compiled(ctx.State.Network, t.Mss, t.ClampToPmtu);

    private sealed class Compiled(HostNetwork network, ushort mss, bool clamp) : CompiledTarget
    {
        private const int TcpHeader = 20, MssOptionLength = 4, TcpChecksum = 16;
        private const byte OptionMss = 2, OptionNop = 1;

        public override TargetVerdict Execute(Packet p, in TargetContext ctx)
        {
            if (!IpChecksum.HasIpHeader(p) || XtPacket.FragmentOffset(p) != 0) return TargetVerdict.Continue;
            bool v6 = p.Info.IsIPv6;
            int tcphoff = v6 ? p.Info.TransportOffset : p.Info.HeaderLength;
            if (tcphoff < 0) return TargetVerdict.Drop;
            int end = XtPacket.End(p);
            int len = end - tcphoff;
            if (len < TcpHeader) return TargetVerdict.Drop;
            var buf = p.Buffer;
            int hdrlen = (buf[tcphoff + 12] >> 4) * 4;
            if (len < hdrlen || hdrlen < TcpHeader) return TargetVerdict.Drop;

            int minlen = (v6 ? 40 : 20) + TcpHeader;
            ushort newmss = mss;
            if (clamp)
            {
                uint minMtu = Math.Min(Mtu(p.Out ?? network.Route(p.Info.Version, p.Info.Destination)),
                                       Mtu(network.Route(p.Info.Version, p.Info.Source)));
                if (minMtu <= (uint)minlen) return TargetVerdict.Drop; // "unknown or invalid path-MTU"
                newmss = (ushort)(minMtu - (uint)minlen);
            }

            var tcp = buf.AsSpan(tcphoff, len);
            for (int i = TcpHeader; i <= hdrlen - MssOptionLength; i += tcp[i] <= OptionNop || tcp[i + 1] == 0 ? 1 : tcp[i + 1])
            {
                if (tcp[i] != OptionMss || tcp[i + 1] != MssOptionLength) continue;
                ushort oldmss = BinaryPrimitives.ReadUInt16BigEndian(tcp[(i + 2)..]);
                if (oldmss <= newmss) return TargetVerdict.Continue; // never increase the MSS
                BinaryPrimitives.WriteUInt16BigEndian(tcp[(i + 2)..], newmss);
                // The kernel applies the delta as if the value were 16-bit aligned. After an odd
                // number of option bytes (a NOP before the MSS option) it straddles two checksum
                // words and the result is wrong: the oracle's listener answered a rewritten
                // aligned SYN but not the same SYN with a NOP in front of its MSS option. Kept.
                Conntrack.Checksum.Replace4(tcp[TcpChecksum..], oldmss, newmss);
                p.Reparse();
                return TargetVerdict.Continue;
            }

            // Data after the header (or a full header) leaves no room to add the option.
            if (len > hdrlen || hdrlen >= 15 * 4) return TargetVerdict.Continue;
            newmss = Math.Min(newmss, v6 ? (ushort)1220 : (ushort)536);

            p.Length = end + MssOptionLength;
            tcp = buf.AsSpan(tcphoff, len + MssOptionLength);
            tcp.Slice(TcpHeader, len - TcpHeader).CopyTo(tcp[(TcpHeader + MssOptionLength)..]);
            Conntrack.Checksum.Replace4(tcp[TcpChecksum..], (uint)len, (uint)(len + MssOptionLength)); // pseudo-header length
            tcp[TcpHeader] = OptionMss;
            tcp[TcpHeader + 1] = MssOptionLength;
            BinaryPrimitives.WriteUInt16BigEndian(tcp[(TcpHeader + 2)..], newmss);
            Conntrack.Checksum.Replace4(tcp[TcpChecksum..], 0, BinaryPrimitives.ReadUInt32BigEndian(tcp[TcpHeader..]));
            ushort oldWord = BinaryPrimitives.ReadUInt16BigEndian(tcp[12..]);
            tcp[12] += MssOptionLength / 4 << 4;
            Conntrack.Checksum.Replace4(tcp[TcpChecksum..], oldWord, BinaryPrimitives.ReadUInt16BigEndian(tcp[12..]));

            var ip = buf.AsSpan(0, tcphoff);
            if (v6)
            {
                ushort payload = BinaryPrimitives.ReadUInt16BigEndian(ip[4..]);
                BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)(payload + MssOptionLength));
            }
            else
            {
                ushort total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
                ushort newTotal = (ushort)(total + MssOptionLength);
                Conntrack.Checksum.Replace2(ip[IpChecksum.Ipv4ChecksumOffset..], total, newTotal);
                BinaryPrimitives.WriteUInt16BigEndian(ip[2..], newTotal);
            }
            p.Reparse();
            return TargetVerdict.Continue;
        }

        /// <summary>dst_mtu of the route through <paramref name="iface"/>; no route = ~0U as in tcpmss_reverse_mtu.</summary>
        private static uint Mtu(NetInterface? iface) => iface == null ? uint.MaxValue : iface.IsLoopback ? 65536u : 1500u;
    }
}
