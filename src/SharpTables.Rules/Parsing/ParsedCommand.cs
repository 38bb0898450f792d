using SharpTables.Rules.Model;

namespace SharpTables.Rules.Parsing;

/// <summary>iptables' command bits (CMD_*); -L and -S combine with -Z.</summary>
[Flags]
public enum Cmd
{
    None = 0,
    Insert = 1 << 0,
    Delete = 1 << 1,
    DeleteNum = 1 << 2,
    Replace = 1 << 3,
    Append = 1 << 4,
    List = 1 << 5,
    Flush = 1 << 6,
    Zero = 1 << 7,
    NewChain = 1 << 8,
    DeleteChain = 1 << 9,
    SetPolicy = 1 << 10,
    RenameChain = 1 << 11,
    ListRules = 1 << 12,
    ZeroNum = 1 << 13,
    Check = 1 << 14,
}

/// <summary>The result of parsing one iptables command line.</summary>
public sealed class ParsedCommand
{
    public Cmd Command { get; set; }
    public string Table { get; set; } = "filter";
    public bool TableSet { get; set; }
    public string? Chain { get; set; }
    public int RuleNumber { get; set; }
    public string? NewName { get; set; }
    public string? Policy { get; set; }
    public bool Numeric { get; set; }
    public int Verbose { get; set; }
    public bool Exact { get; set; }
    public bool LineNumbers { get; set; }
    /// <summary>The counters the rule starts with: -c's for iptables; none for ip6tables-nft, which ignores -c.</summary>
    public Counters? Counters { get; set; }
    /// <summary>What -c said (also for ip6tables, where the rule does not get it).</summary>
    public Counters? CounterArgument { get; set; }
    /// <summary>The rules the command names: one per source × destination address pair.</summary>
    public List<Rule> Rules { get; } = [];
    /// <summary>-V: print the version and stop.</summary>
    public bool Version { get; set; }
    /// <summary>-h: print help and stop (the extension named, if any).</summary>
    public bool Help { get; set; }
    /// <summary>
    /// iptables-restore met the other family's flag (<c>-6</c> in an IPv4 file, <c>-4</c> in an IPv6
    /// one): the rest of the line was ignored, and a rule command adds or removes nothing.
    /// </summary>
    public bool OtherFamily { get; set; }
}
