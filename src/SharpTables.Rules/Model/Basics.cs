namespace SharpTables.Rules.Model;

/// <summary>Address family of a ruleset: <c>iptables</c> is IPv4, <c>ip6tables</c> IPv6.</summary>
public enum Family { IPv4, IPv6 }

/// <summary>Packet and byte counters of a rule or a built-in chain's policy.</summary>
public struct Counters
{
    public ulong Packets;
    public ulong Bytes;
    public Counters(ulong packets, ulong bytes) { Packets = packets; Bytes = bytes; }
    public override readonly string ToString() => $"[{Packets}:{Bytes}]";
}

/// <summary>Netfilter hooks, in the order of the kernel's enum nf_inet_hooks.</summary>
public enum Hook { PreRouting = 0, Input = 1, Forward = 2, Output = 3, PostRouting = 4 }

[Flags]
public enum HookMask
{
    None = 0,
    PreRouting = 1 << Hook.PreRouting,
    Input = 1 << Hook.Input,
    Forward = 1 << Hook.Forward,
    Output = 1 << Hook.Output,
    PostRouting = 1 << Hook.PostRouting,
    All = PreRouting | Input | Forward | Output | PostRouting,
}

/// <summary>The built-in tables, their chains and the hooks those chains sit on.</summary>
public static class BuiltinTables
{
    public sealed record TableDef(string Name, int Priority, IReadOnlyList<(string Chain, Hook Hook)> Chains)
    {
        public bool HasChain(string name) => Chains.Any(c => c.Chain == name);
        public Hook? HookOf(string chain)
        {
            foreach (var c in Chains) if (c.Chain == chain) return c.Hook;
            return null;
        }
    }

    // Order = the order iptables-nft-save prints tables in (observed: mangle, security, raw, filter, nat).
    public static readonly IReadOnlyList<TableDef> All =
    [
        new("mangle", -150, [("PREROUTING", Hook.PreRouting), ("INPUT", Hook.Input), ("FORWARD", Hook.Forward), ("OUTPUT", Hook.Output), ("POSTROUTING", Hook.PostRouting)]),
        new("security", 50, [("INPUT", Hook.Input), ("FORWARD", Hook.Forward), ("OUTPUT", Hook.Output)]),
        new("raw", -300, [("PREROUTING", Hook.PreRouting), ("OUTPUT", Hook.Output)]),
        new("filter", 0, [("INPUT", Hook.Input), ("FORWARD", Hook.Forward), ("OUTPUT", Hook.Output)]),
        new("nat", -100, [("PREROUTING", Hook.PreRouting), ("INPUT", Hook.Input), ("OUTPUT", Hook.Output), ("POSTROUTING", Hook.PostRouting)]),
    ];

    public static TableDef? Find(string name)
    {
        foreach (var t in All) if (t.Name == name) return t;
        return null;
    }
}
