using SharpTables.Rules.Extensions.XtOpt;
using System.Collections.Immutable;
using System.Text;
using SharpTables.Rules.Model;

namespace SharpTables.Rules.Extensions.Set;

/// <summary>A counter condition of a set match (IPSET_COUNTER_*).</summary>
public enum SetCounterOp : byte { None = 0, Equal = 1, NotEqual = 2, Less = 3, Greater = 4 }

/// <summary><c>-m set</c> revision 4 (libxt_set / xt_set): membership of packet fields in an ipset.</summary>
public sealed class SetExtension : MatchExtension
{
    public override string Name => "set";

    // Old-style (getopt) parser: it words its own errors and takes a second argument.
    public override IReadOnlyList<OptionDef> Options { get; } =
    [
        new("match-set", ArgKind.Required, Invertible: true) { Legacy = true },
        new("set", ArgKind.Required, Invertible: true) { Legacy = true },
        new("return-nomatch", ArgKind.None, Invertible: true) { Legacy = true },
        new("update-counters", ArgKind.None, Invertible: true) { Legacy = true },
        new("packets-eq", ArgKind.Required, Invertible: true) { Legacy = true },
        new("packets-lt", ArgKind.Required, Invertible: true) { Legacy = true },
        new("packets-gt", ArgKind.Required, Invertible: true) { Legacy = true },
        new("bytes-eq", ArgKind.Required, Invertible: true) { Legacy = true },
        new("bytes-lt", ArgKind.Required, Invertible: true) { Legacy = true },
        new("bytes-gt", ArgKind.Required, Invertible: true) { Legacy = true },
        new("update-subcounters", ArgKind.None, Invertible: true) { Legacy = true },
    ];

    public override MatchInstance Create() => new SetMatch(this);
}

public sealed class SetMatch(SetExtension ext) : MatchInstance
{
    /// <summary>IPSET_MAXNAMELEN - 1.</summary>
    public const int MaxNameLength = 31;
    /// <summary>IPSET_DIM_MAX.</summary>
    public const int MaxDimensions = 6;

    public override Extension Extension => ext;

    public ushort SetIndex { get; private set; }
    public string SetName { get; private set; } = "";
    /// <summary>Per dimension: true = source, false = destination.</summary>
    public ImmutableArray<bool> Source { get; private set; } = [];
    public bool Invert { get; private set; }
    public bool ReturnNoMatch { get; private set; }
    public bool SkipCounterUpdate { get; private set; }
    public bool SkipSubcounterUpdate { get; private set; }
    public SetCounterOp PacketsOp { get; private set; }
    public ulong Packets { get; private set; }
    public SetCounterOp BytesOp { get; private set; }
    public ulong Bytes { get; private set; }

    public override void Parse(OptionDef option, string? arg, bool invert, RuleContext ctx)
    {
        switch (option.Name)
        {
            case "update-subcounters":
                if (invert) SkipSubcounterUpdate = true;
                break;
            case "update-counters":
                if (invert) SkipCounterUpdate = true;
                break;
            case "return-nomatch":
                if (invert) throw Xt.Param("--return-nomatch flag cannot be inverted");
                ReturnNoMatch = true;
                break;
            case "packets-eq" or "packets-lt" or "packets-gt":
                if (PacketsOp != SetCounterOp.None)
                    throw Xt.Param("only one of the --packets-[eq|lt|gt] is allowed");
                PacketsOp = CounterOp(option.Name, invert);
                Packets = ParseCounter(arg!);
                break;
            case "bytes-eq" or "bytes-lt" or "bytes-gt":
                if (BytesOp != SetCounterOp.None)
                    throw Xt.Param("only one of the --bytes-[eq|lt|gt] is allowed");
                BytesOp = CounterOp(option.Name, invert);
                Bytes = ParseCounter(arg!);
                break;
            case "set":
                Xt.Warn("--set option deprecated, please use --match-set");
                ParseMatchSet(arg!, invert, ctx);
                break;
            case "match-set":
                ParseMatchSet(arg!, invert, ctx);
                break;
        }
    }

    private static SetCounterOp CounterOp(string option, bool invert)
    {
        if (option.EndsWith("-eq", StringComparison.Ordinal)) return invert ? SetCounterOp.NotEqual : SetCounterOp.Equal;
        if (invert) throw Xt.Param($"--{option} option cannot be inverted");
        return option.EndsWith("-lt", StringComparison.Ordinal) ? SetCounterOp.Less : SetCounterOp.Greater;
    }

    private static ulong ParseCounter(string text) =>
        XtNum.StrToUL(text, out ulong v, 0, ulong.MaxValue) ? v : throw Xt.Param($"Cannot parse {text} as a counter value");

    private void ParseMatchSet(string name, bool invert, RuleContext ctx)
    {
        if (!Source.IsEmpty) throw Xt.Param("--match-set can be specified only once");
        if (invert) Invert = true;
        string dirs = ctx.ExtraArg() ?? throw Xt.Param("--match-set requires two args.");
        if (name.Length > MaxNameLength)
            throw Xt.Param($"setname `{name}' too long, max {MaxNameLength} characters.");
        var set = IpSetRegistry.Current.FindByName(name) ?? throw Xt.Param($"Set {name} doesn't exist.\n");
        if (set.Family is { } f && f != ctx.Family)
            throw Xt.Param($"The protocol family of set {name} is {(f == Family.IPv4 ? "IPv4" : "IPv6")}, which is not applicable.\n");
        SetIndex = set.Index;
        SetName = set.Name;
        Source = ParseDirections(dirs);
    }

    /// <summary>parse_dirs: up to six comma-separated words starting with "src" or "dst".</summary>
    private static ImmutableArray<bool> ParseDirections(string text)
    {
        var dims = ImmutableArray.CreateBuilder<bool>();
        var parts = text.Split(',');
        int i = 0;
        for (; i < parts.Length && dims.Count < MaxDimensions; i++)
        {
            if (parts[i].StartsWith("src", StringComparison.Ordinal)) dims.Add(true);
            else if (parts[i].StartsWith("dst", StringComparison.Ordinal)) dims.Add(false);
            else throw Xt.Param("You must spefify (the comma separated list of) 'src' or 'dst'.");
        }
        if (i < parts.Length) throw Xt.Param($"Can't be more src/dst options than {MaxDimensions}.");
        return dims.ToImmutable();
    }

    public override void FinalCheck(RuleContext ctx)
    {
        if (Source.IsEmpty) throw Xt.Param("You must specify `--match-set' with proper arguments");
    }

    private string CurrentName => IpSetRegistry.Current.FindByIndex(SetIndex)?.Name ?? SetName;

    private void AppendInfo(StringBuilder sb, string opt, string sep)
    {
        sb.Append(Invert ? " !" : "").Append(' ').Append(opt).Append(' ').Append(CurrentName);
        for (int i = 0; i < Source.Length; i++)
            sb.Append(i == 0 ? " " : ",").Append(Source[i] ? "src" : "dst");
        if (ReturnNoMatch) sb.Append(' ').Append(sep).Append("return-nomatch");
        if (SkipCounterUpdate) sb.Append(" ! ").Append(sep).Append("update-counters");
        if (SkipSubcounterUpdate) sb.Append(" ! ").Append(sep).Append("update-subcounters");
        Counter(sb, PacketsOp, Packets, "packets", sep);
        Counter(sb, BytesOp, Bytes, "bytes", sep);
    }

    private static void Counter(StringBuilder sb, SetCounterOp op, ulong value, string name, string sep)
    {
        switch (op)
        {
            case SetCounterOp.Equal: sb.Append(' ').Append(sep).Append(name).Append("-eq ").Append(value); break;
            case SetCounterOp.NotEqual: sb.Append(" ! ").Append(sep).Append(name).Append("-eq ").Append(value); break;
            case SetCounterOp.Less: sb.Append(' ').Append(sep).Append(name).Append("-lt ").Append(value); break;
            case SetCounterOp.Greater: sb.Append(' ').Append(sep).Append(name).Append("-gt ").Append(value); break;
        }
    }

    public override void Save(StringBuilder sb) => AppendInfo(sb, "--match-set", "--");

    public override void Print(StringBuilder sb, bool numeric) => AppendInfo(sb, "match-set", "");
}
