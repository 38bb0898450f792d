namespace SharpTables.Engine.Output;

/// <summary>How the kernel sees a packet's bytes at the netfilter hooks.</summary>
public static class KernelView
{
    /// <summary>
    /// skb->len: ip_rcv and ipv6_rcv trim the buffer to the length the IP header states, so
    /// link-layer padding after the datagram is not part of the packet.
    /// </summary>
    public static int SkbLength(Packet p)
    {
        int len = p.Length;
        int stated = p.Info.TotalLength;
        int header = p.Info.IsIPv6 ? 40 : 20;
        return stated >= header && stated < len ? stated : len;
    }
}
