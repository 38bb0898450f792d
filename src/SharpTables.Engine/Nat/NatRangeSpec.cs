using SharpTables.Rules.Extensions.Nat;

namespace SharpTables.Engine.Nat;

/// <summary>NF_NAT_MANIP_*: which end of a connection a binding rewrites.</summary>
public enum NatManip : byte
{
    /// <summary>Source NAT (POSTROUTING, INPUT): SNAT, MASQUERADE.</summary>
    Source,
    /// <summary>Destination NAT (PREROUTING, OUTPUT): DNAT, REDIRECT.</summary>
    Destination,
}

/// <summary>
/// struct nf_nat_range2 for the packet path: addresses (IPv4 in the low 32 bits, host order),
/// the port (or ICMP id) range, the base of a shifted port map, and the NF_NAT_RANGE_* flags.
/// </summary>
public readonly record struct NatRangeSpec(NatRangeFlags Flags, UInt128 MinAddress, UInt128 MaxAddress, ushort MinPort, ushort MaxPort, ushort BasePort)
{
    /// <summary>NF_NAT_RANGE_PROTO_RANDOM_ALL.</summary>
    public const NatRangeFlags RandomAll = NatRangeFlags.ProtoRandom | NatRangeFlags.ProtoRandomFully;

    /// <summary>The range a parsed SNAT/DNAT/MASQUERADE/REDIRECT rule carries.</summary>
    public static NatRangeSpec From(NatRange r) => new(r.Flags, r.MinAddress, r.MaxAddress, r.MinPort, r.MaxPort, r.BasePort);

    public bool Has(NatRangeFlags f) => (Flags & f) != 0;
}
