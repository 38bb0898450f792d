using SharpTables.Rules.Model;

namespace SharpTables.Rules.Extensions.XtOpt;

/// <summary>
/// One entry of an extension's x6 option table (libxtables' <c>struct xt_option_entry</c>):
/// the option's getopt name, its id (entries sharing an id are aliases), whether it takes an
/// argument, and the flags the generic xtopt layer enforces.
/// </summary>
public sealed record XtEntry(string Name, int Id, bool HasArg = true)
{
    /// <summary>XTOPT_INVERT: may be preceded by <c>!</c>.</summary>
    public bool Invert { get; init; }
    /// <summary>XTOPT_MAND: must be given.</summary>
    public bool Mandatory { get; init; }
    /// <summary>XTOPT_MULTI: may be given more than once.</summary>
    public bool Multi { get; init; }
    /// <summary>Ids (as bits) this option cannot be combined with.</summary>
    public uint Excl { get; init; }
    /// <summary>Ids (as bits) this option requires.</summary>
    public uint Also { get; init; }
}

/// <summary>
/// A match extension described by an x6 option table. Its options are handed to the command
/// parser as old-style (<see cref="OptionDef.Legacy"/>) options so that <see cref="XtOptMatch"/>
/// can apply the xtopt rules itself, with libxtables' wording and in libxtables' order
/// (the extension's own final check runs before the generic mandatory/exclusion checks).
/// </summary>
public abstract class XtOptMatchExtension : MatchExtension
{
    private IReadOnlyList<OptionDef>? _options;

    /// <summary>The option table, in the order the C extension declares it.</summary>
    public abstract IReadOnlyList<XtEntry> Entries { get; }

    public sealed override IReadOnlyList<OptionDef> Options => _options ??=
        [.. Entries.Select(e => new OptionDef(e.Name, e.HasArg ? ArgKind.Required : ArgKind.None, e.Invert)
        {
            Id = "xt" + e.Id.ToString(System.Globalization.CultureInfo.InvariantCulture),
            Legacy = true,
        })];

    /// <summary>The first entry with the option's id, as xtables_option_lookup finds it.</summary>
    internal XtEntry EntryFor(OptionDef option)
    {
        int id = int.Parse(option.Id.AsSpan(2), System.Globalization.CultureInfo.InvariantCulture);
        return Entries.First(e => e.Id == id);
    }
}

/// <summary>
/// One use of an <see cref="XtOptMatchExtension"/>: xtables_option_parse's generic checks
/// ("can only be used once", "cannot be inverted"), then the extension's parser; at the end
/// the extension's final check, then xtables_options_fcheck (mandatory options, "also requires",
/// "cannot be used together with").
/// </summary>
public abstract class XtOptMatch : MatchInstance
{
    private uint _xflags;

    private XtOptMatchExtension XtExtension => (XtOptMatchExtension)Extension;

    /// <summary>Bits (1 &lt;&lt; id) of the options given so far (xtables' <c>mflags</c>).</summary>
    protected uint XFlags => _xflags;

    protected bool Given(int id) => (_xflags & (1u << id)) != 0;

    public sealed override void Parse(OptionDef option, string? argument, bool invert, RuleContext ctx)
    {
        var entry = XtExtension.EntryFor(option);
        uint flag = 1u << entry.Id;
        if ((!entry.Multi || (entry.Excl & flag) != 0) && (_xflags & flag) != 0)
            throw Xt.Param($"{ExtName}: option \"--{entry.Name}\" can only be used once.\n");
        if (invert && !entry.Invert)
            throw Xt.Param($"{ExtName}: option \"--{entry.Name}\" cannot be inverted.\n");
        ParseEntry(entry, argument ?? "", invert, ctx);
        _xflags |= flag;
    }

    /// <summary>The extension's x6_parse for one option (generic checks already done).</summary>
    protected abstract void ParseEntry(XtEntry entry, string arg, bool invert, RuleContext ctx);

    public sealed override void FinalCheck(RuleContext ctx)
    {
        Check(ctx);
        var table = XtExtension.Entries;
        foreach (var entry in table)
        {
            if (entry.Mandatory && !Given(entry.Id))
                throw Xt.Param($"{ExtName}: option \"--{entry.Name}\" must be specified\n");
            if (!Given(entry.Id)) continue;
            for (int i = 0; i < 32; i++)
            {
                if (i == entry.Id) continue;
                var other = table.FirstOrDefault(e => e.Id == i);
                if (other == null) continue;
                uint of = 1u << i;
                if ((entry.Also & of) != 0 && (_xflags & of) == 0)
                    throw Xt.Param($"{ExtName}: option \"--{entry.Name}\" also requires \"--{other.Name}\".\n");
                if ((entry.Excl & of) != 0 && (_xflags & of) != 0)
                    throw Xt.Param($"{ExtName}: option \"--{entry.Name}\" cannot be used together with \"--{other.Name}\".\n");
            }
        }
    }

    /// <summary>The extension's x6_fcheck.</summary>
    protected virtual void Check(RuleContext ctx) { }

    /// <summary>xtables_param_act(XTF_BAD_VALUE, ext, "--opt", arg).</summary>
    protected static XtablesException BadValue(string ext, string option, string arg) =>
        Xt.Param($"{ext}: Bad value for \"{option}\" option: \"{arg}\"");
}
