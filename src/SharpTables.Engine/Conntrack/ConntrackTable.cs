namespace SharpTables.Engine.Conntrack;

/// <summary>Conntrack settings (the nf_conntrack sysctls that matter here).</summary>
public sealed class ConntrackOptions
{
    /// <summary>nf_conntrack_max: entries before early drop / refusing new ones.</summary>
    public int Max { get; init; } = 262144;
    /// <summary>nf_conntrack_tcp_loose: pick up established connections mid-stream.</summary>
    public bool TcpLoose { get; init; } = true;
    /// <summary>nf_conntrack_tcp_be_liberal.</summary>
    public bool TcpBeLiberal { get; init; }
}

/// <summary>
/// The connection tracking table (nf_conntrack). STUB: the conntrack work replaces this file.
/// The walker calls <see cref="In"/> at PREROUTING/OUTPUT (priority -200, after raw) and
/// <see cref="Confirm"/> at the end of INPUT/POSTROUTING for accepted packets.
/// </summary>
public sealed class ConntrackTable(EngineClock clock, ConntrackOptions options)
{
    public EngineClock Clock { get; } = clock;
    public ConntrackOptions Options { get; } = options;

    /// <summary>nf_conntrack_in: finds or creates the entry, sets p.Conn/p.CtInfo. Returns false to drop the packet.</summary>
    public bool In(Packet p) => true;

    /// <summary>nf_conntrack_confirm: inserts a new entry into the table. Returns false to drop.</summary>
    public bool Confirm(Packet p) => true;

    public int Count => 0;
}
