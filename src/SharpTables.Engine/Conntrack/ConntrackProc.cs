using System.Text;
using SharpTables.Packets;

namespace SharpTables.Engine.Conntrack;

/// <summary>
/// One line of /proc/net/nf_conntrack (ct_seq_show in nf_conntrack_standalone.c), e.g.
/// <c>ipv4     2 tcp      6 117 TIME_WAIT src=… dst=… sport=… dport=… src=… [ASSURED] mark=0 zone=0 use=2</c>.
/// IPv6 addresses are printed in full (%pI6). <c>use</c> is the entry's reference count as the
/// reader sees it: the table's reference plus the reader's own.
/// </summary>
public static class ConntrackProc
{
    /// <summary>Formats an entry with <paramref name="secondsLeft"/> until it expires.</summary>
    public static string Format(Connection ct, long secondsLeft)
    {
        var sb = new StringBuilder(200);
        var t = ct.Original;
        string l3 = t.Version == 4 ? "ipv4" : "ipv6";
        int l3num = t.Version == 4 ? 2 : 10;
        sb.Append(l3.PadRight(8)).Append(' ').Append(l3num).Append(' ')
          .Append(L4Name(t.Protocol).PadRight(8)).Append(' ').Append(t.Protocol).Append(' ')
          .Append(secondsLeft).Append(' ');
        if (t.Protocol == IpProtocol.Tcp) sb.Append(TcpTracker.StateNames[(int)ct.TcpState]).Append(' ');
        else if (t.Protocol == IpProtocol.Sctp) sb.Append("CLOSED "); // the only SCTP state modelled (no association tracking)
        if (t.Protocol == IpProtocol.Gre)
            sb.Append("timeout=").Append(ProtocolTrackers.GreUnreplied / EngineClock.Hz)
              .Append(", stream_timeout=").Append(ProtocolTrackers.GreReplied / EngineClock.Hz).Append(' ');
        AppendTuple(sb, ct.Original);
        if (!ct.Has(ConnStatus.SeenReply)) sb.Append("[UNREPLIED] ");
        AppendTuple(sb, ct.Reply);
        if (ct.Has(ConnStatus.Assured)) sb.Append("[ASSURED] ");
        sb.Append("mark=").Append(ct.Mark).Append(' ');
        sb.Append("zone=").Append(ct.Zone).Append(' ');
        sb.Append("use=2");
        return sb.ToString();
    }

    /// <summary>l4proto_name: the protocols with their own tracker; "unknown" for the generic one.</summary>
    private static string L4Name(byte protocol) => protocol switch
    {
        IpProtocol.Tcp => "tcp",
        IpProtocol.Udp => "udp",
        IpProtocol.UdpLite => "udplite",
        IpProtocol.Icmp => "icmp",
        IpProtocol.Icmpv6 => "icmpv6",
        IpProtocol.Sctp => "sctp",
        IpProtocol.Gre => "gre",
        _ => "unknown",
    };

    private static void AppendTuple(StringBuilder sb, in ConnTuple t)
    {
        sb.Append("src=");
        AppendAddress(sb, t.Version, t.Source);
        sb.Append(" dst=");
        AppendAddress(sb, t.Version, t.Destination);
        sb.Append(' ');
        switch (t.Protocol)
        {
            case IpProtocol.Icmp:
            case IpProtocol.Icmpv6:
                sb.Append("type=").Append(t.IcmpType).Append(" code=").Append(t.IcmpCode).Append(" id=").Append(t.SourcePort).Append(' ');
                break;
            case IpProtocol.Tcp:
            case IpProtocol.Udp:
            case IpProtocol.UdpLite:
            case IpProtocol.Sctp:
                sb.Append("sport=").Append(t.SourcePort).Append(" dport=").Append(t.DestinationPort).Append(' ');
                break;
            case IpProtocol.Gre:
                sb.Append("srckey=0x").Append(t.SourcePort.ToString("x")).Append(" dstkey=0x").Append(t.DestinationPort.ToString("x")).Append(' ');
                break;
        }
    }

    /// <summary>%pI4, or %pI6: eight groups of four hex digits.</summary>
    private static void AppendAddress(StringBuilder sb, byte version, UInt128 a)
    {
        if (version == 4)
        {
            sb.Append(Ipv4.Format((uint)a));
            return;
        }
        for (int shift = 112; shift >= 0; shift -= 16)
        {
            sb.Append(((ushort)(a >> shift)).ToString("x4"));
            if (shift > 0) sb.Append(':');
        }
    }
}
