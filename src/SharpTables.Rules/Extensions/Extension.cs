using System.Text;
using SharpTables.Rules.Model;

namespace SharpTables.Rules.Extensions;

public enum ArgKind { None, Required, Optional }

/// <summary>
/// A long option of an extension, as getopt sees it. <paramref name="Id"/> groups aliases
/// (e.g. <c>--dport</c> and <c>--destination-port</c>) so abbreviation does not call them ambiguous.
/// </summary>
public sealed record OptionDef(string Name, ArgKind Arg = ArgKind.Required, bool Invertible = false)
{
    /// <summary>Options with the same id are aliases; defaults to the name.</summary>
    public string Id { get; init; } = Name;
    /// <summary>xtopt checks "can only be used once" unless set (old-style parsers check themselves).</summary>
    public bool Multi { get; init; }
    /// <summary>xtopt "must be specified" check at final-check time.</summary>
    public bool Mandatory { get; init; }
    /// <summary>Old-style (non-xtopt) option: no generic once/invert checks.</summary>
    public bool Legacy { get; init; }
}

/// <summary>An iptables extension module (a match or a target), keyed by its module name.</summary>
public abstract class Extension
{
    /// <summary>The module name as written after <c>-m</c> or <c>-j</c>.</summary>
    public abstract string Name { get; }
    public virtual IReadOnlyList<string> Aliases => [];
    public abstract IReadOnlyList<OptionDef> Options { get; }
    /// <summary>Families this extension exists for.</summary>
    public virtual bool Supports(Family family) => true;
}

public abstract class MatchExtension : Extension
{
    public abstract MatchInstance Create();
}

public abstract class TargetExtension : Extension
{
    public abstract TargetInstance Create();
}

/// <summary>What an extension needs to know about the rule while parsing and checking it.</summary>
public sealed class RuleContext
{
    public required Family Family { get; init; }
    public required string Table { get; init; }
    /// <summary>The chain the command names (may be a user chain).</summary>
    public string? Chain { get; init; }
    /// <summary>Protocol from <c>-p</c> (0 = any) and whether it was inverted; known at final check.</summary>
    public ushort Protocol { get; set; }
    public bool InvertProtocol { get; set; }
    public RuleHeader Header { get; set; } = new();
    /// <summary>Takes the next command-line word when it is not an option (for options with two arguments).</summary>
    public Func<string?> ExtraArg { get; set; } = () => null;
}

/// <summary>
/// The kernel-side checks of a rule (xt_check_match/xt_check_target): the table and the hooks
/// the rule can be reached from. An extension names an errno text when it refuses.
/// </summary>
public sealed class KernelCheckContext
{
    public required string Table { get; init; }
    public required HookMask Hooks { get; init; }
    public required RuleHeader Header { get; init; }
    /// <summary>
    /// The hook mask an extension's own checkentry sees (xt_mtchk_param.hook_mask under
    /// nf_tables): the hook of the built-in chain the rule is added to, none for a user chain,
    /// and none when a new jump makes existing rules reachable from more hooks (the kernel then
    /// re-validates only the extensions' registered hooks, which <see cref="Hooks"/> covers).
    /// </summary>
    public HookMask CheckEntryHooks { get; init; }
}

/// <summary>
/// One use of an extension in one rule: the parsed options (iptables' parse/final_check)
/// and their canonical printing (save for -S and iptables-save, print for -L).
/// Filled while the rule is parsed, immutable afterwards.
/// </summary>
public abstract class ExtensionInstance
{
    private readonly HashSet<string> _seen = [];

    public abstract Extension Extension { get; }

    /// <summary>The family of the rule (iptables or ip6tables): set by the rule parser when it loads the extension.</summary>
    public Family Family { get; internal set; }

    /// <summary>The name printed after <c>-m</c>/<c>-j</c>; usually the name the user wrote.</summary>
    public virtual string SaveName => Extension.Name;


    /// <summary>Options seen so far (by <see cref="OptionDef.Id"/>).</summary>
    protected bool Seen(string id) => _seen.Contains(id);
    protected int SeenCount => _seen.Count;

    /// <summary>Called by the rule parser: generic xtopt checks, then <see cref="Parse"/>.</summary>
    internal void ParseOption(OptionDef option, string? argument, bool invert, RuleContext ctx)
    {
        if (!option.Legacy)
        {
            // xtopt looks the option up by its id: the first entry with that id gives the name
            // in messages and the invert flag (so "--sport" is reported as "--source-port").
            var entry = Extension.Options.FirstOrDefault(o => o.Id == option.Id) ?? option;
            if (_seen.Contains(option.Id) && !entry.Multi)
                throw Xt.Param($"{ExtName}: option \"--{entry.Name}\" can only be used once.\n");
            if (invert && !entry.Invertible)
                throw Xt.Param($"{ExtName}: option \"--{entry.Name}\" cannot be inverted.\n");
        }
        _seen.Add(option.Id);
        Parse(option, argument, invert, ctx);
    }

    internal void RunFinalCheck(RuleContext ctx)
    {
        foreach (var o in Extension.Options)
            if (o.Mandatory && !_seen.Contains(o.Id))
                throw Xt.Param($"{ExtName}: option \"--{o.Name}\" must be specified\n");
        FinalCheck(ctx);
    }

    /// <summary>The name iptables uses in messages about this extension.</summary>
    protected virtual string ExtName => Extension.Name;

    public abstract void Parse(OptionDef option, string? argument, bool invert, RuleContext ctx);
    public virtual void FinalCheck(RuleContext ctx) { }

    /// <summary>Kernel-side validation; return an errno text (e.g. "Invalid argument") to refuse.</summary>
    public virtual string? CheckEntry(KernelCheckContext ctx) => null;

    /// <summary>Appends the options as iptables-save prints them, each with a leading space.</summary>
    public abstract void Save(StringBuilder sb);

    /// <summary>Appends the -L form (iptables' print()), each item with a leading space.</summary>
    public abstract void Print(StringBuilder sb, bool numeric);
}

public abstract class MatchInstance : ExtensionInstance
{
    /// <summary>Whether iptables-save prints "-m NAME" before the options (false for nft-native forms that print none).</summary>
    public virtual bool SaveModuleName => true;
}

public abstract class TargetInstance : ExtensionInstance
{
    /// <summary>
    /// The name -L shows in the target column: the kernel's name of the target. It differs from
    /// <see cref="ExtensionInstance.SaveName"/> for aliases (<c>-j NOTRACK</c> lists as <c>CT</c>).
    /// </summary>
    public virtual string ListName => SaveName;
}
