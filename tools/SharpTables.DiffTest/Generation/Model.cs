using System.Text.Json.Nodes;

namespace SharpTables.DiffTest.Generation;

/// <summary>Addresses of the oracle topology (../shared/oracle/lib/topo.py).</summary>
internal static class Topo
{
    public const string FwEth0 = "198.51.100.1";
    public const string FwEth1 = "203.0.113.1";
    public const string Client = "198.51.100.2";
    public const string Backend = "203.0.113.2";

    /// <summary>Cases own blocks of four addresses, 4*block .. 4*block+3, blocks 1 .. 61.</summary>
    public const int MaxBlocks = 61;

    public static string ClientHost(int host) => "198.51.100." + host;
    public static string BackendHost(int host) => "203.0.113." + host;
}

/// <summary>The netfilter hooks, named as their built-in chains.</summary>
internal enum Hook { PREROUTING, INPUT, FORWARD, OUTPUT, POSTROUTING }

/// <summary>The tables the generator uses and their built-in chains, in iptables-nft-save order.</summary>
internal static class Tables
{
    public static readonly string[] Order = ["mangle", "raw", "filter", "nat"];

    public static Hook[] Chains(string table) => table switch
    {
        "filter" => [Hook.INPUT, Hook.FORWARD, Hook.OUTPUT],
        "mangle" => [Hook.PREROUTING, Hook.INPUT, Hook.FORWARD, Hook.OUTPUT, Hook.POSTROUTING],
        "raw" => [Hook.PREROUTING, Hook.OUTPUT],
        "nat" => [Hook.PREROUTING, Hook.INPUT, Hook.OUTPUT, Hook.POSTROUTING],
        _ => throw new ArgumentException(table),
    };
}

/// <summary>One generated chain: a case's body chain for a built-in chain, or one of its user chains.</summary>
internal sealed class ChainSpec(string name, Hook hook, bool isUser)
{
    public string Name { get; } = name;
    /// <summary>The built-in chain this chain is reached from (user chains are reached from one only).</summary>
    public Hook Hook { get; } = hook;
    public bool IsUser { get; } = isUser;
    /// <summary>Rule bodies (everything after <c>-A CHAIN</c>).</summary>
    public List<string> Rules { get; } = [];
}

/// <summary>A case's chains in one table.</summary>
internal sealed class CaseTable(string name)
{
    public string Name { get; } = name;
    /// <summary>The case's policy per built-in chain (emulated by its wrapper chain, or the real policy for the tail case).</summary>
    public Dictionary<Hook, string> Policies { get; } = [];
    /// <summary>Body chains (one per built-in chain, named after it) and user chains.</summary>
    public List<ChainSpec> Chains { get; } = [];

    public ChainSpec Body(Hook h) => Chains.First(c => !c.IsUser && c.Hook == h);
}

/// <summary>
/// One generated test case: a ruleset fragment that only its own packets reach, and those packets.
/// A case owns a block of four client-side addresses (and four backend-side ones in router batches);
/// the dispatch rules send every packet from or to the block into the case's chains.
/// The tail case (id 0) owns the real client/backend addresses (.2, .3) and everything no other case
/// takes: its rules sit directly in the built-in chains, after the dispatch rules, under the real policies.
/// </summary>
internal sealed class CaseSpec(int id, int block)
{
    public int Id { get; } = id;
    public bool IsTail => Id == 0;
    /// <summary>Address block number (0 for the tail case).</summary>
    public int Block { get; } = block;
    public List<string> ClientAddrs { get; } = [];
    public List<string> BackendAddrs { get; } = [];
    public Dictionary<string, CaseTable> Tables { get; } = [];
    /// <summary>Flows (groups of lines that stay together in the scenario), in order.</summary>
    public List<List<JsonObject>> Flows { get; } = [];
    /// <summary>Features the case's rules use (for budgets and reports).</summary>
    public HashSet<string> Features { get; } = [];
    /// <summary>Which attempt of this case's seed was used (earlier ones were refused).</summary>
    public int Attempt { get; set; }

    /// <summary>Chain names of this case start with this.</summary>
    public string Prefix => $"c{Id}_";
    public string ClientBlock => Topo.ClientHost(4 * Block) + "/30";
    public string BackendBlock => Topo.BackendHost(4 * Block) + "/30";
}

/// <summary>One oracle run's worth of cases: the ruleset, scenario and metadata written to a batch directory.</summary>
internal sealed class BatchSpec
{
    public required ulong Seed { get; init; }
    public required int Index { get; init; }
    /// <summary>Marks every LOG prefix of this batch (LOG lines of other runs on the machine are told apart by it).</summary>
    public required string Tag { get; init; }
    public required bool Router { get; init; }
    /// <summary>Whether the rules may use conntrack (state, conntrack, connmark, NAT, NOTRACK...).</summary>
    public required bool Conntrack { get; init; }
    public required List<string> TableNames { get; init; }
    public List<CaseSpec> Cases { get; } = [];
    public List<JsonObject> Listeners { get; } = [];
    /// <summary>Scenario lines in file order (listeners first).</summary>
    public List<(JsonObject Line, int Case)> Lines { get; } = [];
    public string RulesText { get; set; } = "";
    /// <summary>For every built-in chain ("table/CHAIN"): the case owning each rule (by index - 1).</summary>
    public Dictionary<string, List<int>> BuiltinOwners { get; } = [];
    /// <summary>For every line of <see cref="RulesText"/>: the case it belongs to (-1 for table lines).</summary>
    public List<int> RuleLineOwners { get; set; } = [];
    /// <summary>Cases whose first attempts the kernel or our parser refused, with the reason.</summary>
    public List<string> Notes { get; } = [];
}
