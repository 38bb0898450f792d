using SharpTables.Rules.Extensions.XtOpt;
using System.Text;
using SharpTables.Rules.Model;

namespace SharpTables.Rules.Extensions.Owner;

/// <summary>What an owner match tests (XT_OWNER_* bits).</summary>
[Flags]
public enum OwnerTests : byte { None = 0, Uid = 1, Gid = 2, Socket = 4, SupplGroups = 8 }

/// <summary><c>-m owner</c> revision 1 (libxt_owner / xt_owner): the local socket's owner.</summary>
public sealed class OwnerExtension : MatchExtension
{
    public override string Name => "owner";

    public override IReadOnlyList<OptionDef> Options { get; } =
    [
        new("uid-owner", ArgKind.Required, Invertible: true),
        new("gid-owner", ArgKind.Required, Invertible: true),
        new("socket-exists", ArgKind.None, Invertible: true),
        new("suppl-groups", ArgKind.None),
    ];

    public override MatchInstance Create() => new OwnerMatch(this);
}

public sealed class OwnerMatch(OwnerExtension ext) : MatchInstance
{
    public override Extension Extension => ext;

    public OwnerTests Tests { get; private set; }
    /// <summary>Tests whose result is inverted (a subset of <see cref="Tests"/>).</summary>
    public OwnerTests Inverted { get; private set; }
    public uint UidMin { get; private set; }
    public uint UidMax { get; private set; }
    public uint GidMin { get; private set; }
    public uint GidMax { get; private set; }

    public override void Parse(OptionDef option, string? arg, bool invert, RuleContext ctx)
    {
        switch (option.Name)
        {
            case "uid-owner":
                (UidMin, UidMax) = UserDb.Current.UserId(arg!) is { } uid ? (uid, uid) : ParseRange(arg!, "--uid-owner");
                Set(OwnerTests.Uid, invert);
                break;
            case "gid-owner":
                (GidMin, GidMax) = UserDb.Current.GroupId(arg!) is { } gid ? (gid, gid) : ParseRange(arg!, "--gid-owner");
                Set(OwnerTests.Gid, invert);
                break;
            case "socket-exists":
                Set(OwnerTests.Socket, invert);
                break;
            case "suppl-groups":
                if ((Tests & OwnerTests.Gid) == 0)
                    throw Xt.Param("owner: Bad value for \"--suppl-groups\" option: \"you need to use --gid-owner first\"");
                Tests |= OwnerTests.SupplGroups;
                break;
        }
    }

    private void Set(OwnerTests t, bool invert)
    {
        Tests |= t;
        if (invert) Inverted |= t;
    }

    /// <summary>owner_parse_range: <c>a[-b]</c> or <c>a[:b]</c>, numbers up to 2^32-2 in C syntax.</summary>
    private static (uint, uint) ParseRange(string s, string opt)
    {
        XtablesException Bad() => Xt.Param($"owner: Bad value for \"{opt}\" option: \"{s}\"");
        const ulong max = uint.MaxValue - 1;
        if (!XtNum.StrToUL(s, 0, out ulong from, out int end, 0, max)) throw Bad();
        ulong to = from;
        if (end < s.Length && s[end] is '-' or ':')
            if (!XtNum.StrToUL(s, end + 1, out to, out end, 0, max)) throw Bad();
        if (end < s.Length) throw Bad();
        return ((uint)from, (uint)to);
    }

    public override void FinalCheck(RuleContext ctx)
    {
        if (SeenCount == 0)
            throw Xt.Param("owner: At least one of --uid-owner, --gid-owner or --socket-exists is required");
    }

    /// <summary>
    /// xt_owner: only OUTPUT and POSTROUTING have a local socket, and a uid/gid range must not be
    /// reversed.
    /// </summary>
    public override string? CheckEntry(KernelCheckContext ctx)
    {
        if ((ctx.Hooks & ~(HookMask.Output | HookMask.PostRouting)) != 0) return "Invalid argument";
        if ((Tests & OwnerTests.Uid) != 0 && UidMax < UidMin) return "Invalid argument";
        if ((Tests & OwnerTests.Gid) != 0 && GidMax < GidMin) return "Invalid argument";
        return null;
    }

    private void Item(StringBuilder sb, string label, OwnerTests t, bool numeric)
    {
        if ((Tests & t) == 0) return;
        if ((Inverted & t) != 0) sb.Append(" !");
        sb.Append(' ').Append(label);
        if (t == OwnerTests.Uid) Id(sb, UidMin, UidMax, numeric ? null : UserDb.Current.UserName);
        else if (t == OwnerTests.Gid) Id(sb, GidMin, GidMax, numeric ? null : UserDb.Current.GroupName);
    }

    private static void Id(StringBuilder sb, uint min, uint max, Func<uint, string?>? name)
    {
        if (min != max) sb.Append(' ').Append(min).Append('-').Append(max);
        else sb.Append(' ').Append(name?.Invoke(min) ?? min.ToString());
    }

    public override void Save(StringBuilder sb)
    {
        Item(sb, "--socket-exists", OwnerTests.Socket, true);
        Item(sb, "--uid-owner", OwnerTests.Uid, true);
        Item(sb, "--gid-owner", OwnerTests.Gid, true);
        Item(sb, "--suppl-groups", OwnerTests.SupplGroups, true);
    }

    public override void Print(StringBuilder sb, bool numeric)
    {
        Item(sb, "owner socket exists", OwnerTests.Socket, numeric);
        Item(sb, "owner UID match", OwnerTests.Uid, numeric);
        Item(sb, "owner GID match", OwnerTests.Gid, numeric);
        Item(sb, "incl. suppl. groups", OwnerTests.SupplGroups, numeric);
    }
}
