namespace SharpTables.Engine.Conntrack;

/// <summary>
/// A conntrack tuple: one direction of a connection (nf_conntrack_tuple). For TCP/UDP the ports;
/// for ICMP the echo id sits in <see cref="SourcePort"/> and type/code in <see cref="DestinationPort"/>
/// (type in the high byte, code in the low byte), as the kernel keeps them.
/// </summary>
public readonly record struct ConnTuple(byte Version, byte Protocol, UInt128 Source, UInt128 Destination, ushort SourcePort, ushort DestinationPort);

/// <summary>IPS_* status bits of a conntrack entry.</summary>
[Flags]
public enum ConnStatus : uint
{
    None = 0,
    Expected = 1 << 0,
    SeenReply = 1 << 1,
    Assured = 1 << 2,
    Confirmed = 1 << 3,
    SrcNat = 1 << 4,
    DstNat = 1 << 5,
    SrcNatDone = 1 << 7,
    DstNatDone = 1 << 8,
    Dying = 1 << 9,
    Untracked = 1 << 12,
}

/// <summary>The TCP conntrack states (enum tcp_conntrack), in the kernel's order.</summary>
public enum TcpConntrackState : byte
{
    None = 0, SynSent, SynRecv, Established, FinWait, CloseWait, LastAck, TimeWait, Close, SynSent2,
}

/// <summary>
/// One tracked connection (struct nf_conn). The original tuple is the direction of the first
/// packet; the reply tuple is what replies look like after NAT.
/// </summary>
public sealed class Connection
{
    public ConnTuple Original;
    public ConnTuple Reply;
    public ConnStatus Status;
    /// <summary>ctmark (CONNMARK / connmark match).</summary>
    public uint Mark;
    /// <summary>Jiffies (32-bit) when the entry expires.</summary>
    public uint Timeout;
    public TcpConntrackState TcpState;
    /// <summary>Set when the entry is removed from the table (connlimit's lists check this).</summary>
    public bool Dead;
    /// <summary>Protocol-private state (TCP windows etc.), owned by the tracker.</summary>
    public object? ProtocolState;
    /// <summary>Zone (CT --zone).</summary>
    public ushort Zone;

    public bool Has(ConnStatus s) => (Status & s) == s;
}
