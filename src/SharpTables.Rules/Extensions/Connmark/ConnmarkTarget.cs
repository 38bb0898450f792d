using System.Text;

namespace SharpTables.Rules.Extensions.Connmark;

/// <summary>What CONNMARK does (the kernel's XT_CONNMARK_* modes).</summary>
public enum ConnmarkMode : byte
{
    /// <summary>ctmark = (ctmark AND NOT CtMask) XOR CtMark.</summary>
    Set = 0,
    /// <summary>Copy the packet mark into the connection mark.</summary>
    Save = 1,
    /// <summary>Copy the connection mark into the packet mark.</summary>
    Restore = 2,
}

public enum ConnmarkShift : byte { Left = 0, Right = 1 }

/// <summary><c>-j CONNMARK</c> (libxt_CONNMARK revision 2 / xt_connmark).</summary>
public sealed class ConnmarkTargetExtension : TargetExtension
{
    public override string Name => "CONNMARK";

    public override IReadOnlyList<OptionDef> Options { get; } =
    [
        new("set-xmark"),
        new("set-mark"),
        new("and-mark"),
        new("or-mark"),
        new("xor-mark"),
        new("save-mark", ArgKind.None),
        new("restore-mark", ArgKind.None),
        new("left-shift-mark"),
        new("right-shift-mark"),
        new("ctmask"),
        new("nfmask"),
        new("mask"),
    ];

    public override TargetInstance Create() => new ConnmarkTarget(this);
}

public sealed class ConnmarkTarget(ConnmarkTargetExtension ext) : TargetInstance
{
    private const int OSetMark = 0, OSaveMark = 1, ORestoreMark = 2, OAndMark = 3, OOrMark = 4, OXorMark = 5,
        OLeftShift = 6, ORightShift = 7, OSetXmark = 8, OCtMask = 9, ONfMask = 10, OMask = 11;

    private const uint AnyOp = (1u << OSetMark) | (1u << OSaveMark) | (1u << ORestoreMark) | (1u << OAndMark) |
                               (1u << OOrMark) | (1u << OXorMark) | (1u << OSetXmark);

    private static readonly XtOptRow[] s_table =
    [
        new("set-xmark", OSetXmark, Excl: AnyOp),
        new("set-mark", OSetMark, Excl: AnyOp),
        new("and-mark", OAndMark, Excl: AnyOp),
        new("or-mark", OOrMark, Excl: AnyOp),
        new("xor-mark", OXorMark, Excl: AnyOp),
        new("save-mark", OSaveMark, Excl: AnyOp),
        new("restore-mark", ORestoreMark, Excl: AnyOp),
        new("left-shift-mark", OLeftShift),
        new("right-shift-mark", ORightShift),
        new("ctmask", OCtMask, Excl: 1u << OMask),
        new("nfmask", ONfMask, Excl: 1u << OMask),
        new("mask", OMask, Excl: (1u << OCtMask) | (1u << ONfMask)),
    ];

    private uint _flags;

    public override Extension Extension => ext;

    public ConnmarkMode Mode { get; private set; }

    /// <summary>Set mode: the bits XORed into the connection mark.</summary>
    public uint CtMark { get; private set; }

    /// <summary>Set mode: connection-mark bits cleared first; save/restore: connection-mark bits copied.</summary>
    public uint CtMask { get; private set; } = uint.MaxValue;

    /// <summary>Save/restore: packet-mark bits copied.</summary>
    public uint NfMask { get; private set; } = uint.MaxValue;

    public ConnmarkShift ShiftDirection { get; private set; }

    /// <summary>How far the copied mark is shifted (0-32).</summary>
    public byte ShiftBits { get; private set; }

    public override void Parse(OptionDef option, string? arg, bool invert, RuleContext ctx)
    {
        switch (option.Name)
        {
            case "set-xmark":
                Mode = ConnmarkMode.Set;
                (CtMark, CtMask) = XtParsing.MarkMask("CONNMARK", option.Name, arg!);
                _flags |= 1u << OSetXmark;
                break;
            case "set-mark":
            {
                var (v, m) = XtParsing.MarkMask("CONNMARK", option.Name, arg!);
                Mode = ConnmarkMode.Set;
                CtMark = v;
                CtMask = v | m;
                _flags |= 1u << OSetMark;
                break;
            }
            case "and-mark":
                Mode = ConnmarkMode.Set;
                CtMark = 0;
                CtMask = ~Xt.ParseUInt("CONNMARK", option.Name, arg);
                _flags |= 1u << OAndMark;
                break;
            case "or-mark":
                Mode = ConnmarkMode.Set;
                CtMark = CtMask = Xt.ParseUInt("CONNMARK", option.Name, arg);
                _flags |= 1u << OOrMark;
                break;
            case "xor-mark":
                Mode = ConnmarkMode.Set;
                CtMark = Xt.ParseUInt("CONNMARK", option.Name, arg);
                CtMask = 0;
                _flags |= 1u << OXorMark;
                break;
            case "save-mark":
                Mode = ConnmarkMode.Save;
                _flags |= 1u << OSaveMark;
                break;
            case "restore-mark":
                Mode = ConnmarkMode.Restore;
                _flags |= 1u << ORestoreMark;
                break;
            case "left-shift-mark":
                ShiftBits = (byte)Xt.ParseUInt("CONNMARK", option.Name, arg, 0, 32);
                ShiftDirection = ConnmarkShift.Left;
                _flags |= 1u << OLeftShift;
                break;
            case "right-shift-mark":
                ShiftBits = (byte)Xt.ParseUInt("CONNMARK", option.Name, arg, 0, 32);
                ShiftDirection = ConnmarkShift.Right;
                _flags |= 1u << ORightShift;
                break;
            case "ctmask":
                CtMask = Xt.ParseUInt("CONNMARK", option.Name, arg);
                _flags |= 1u << OCtMask;
                break;
            case "nfmask":
                NfMask = Xt.ParseUInt("CONNMARK", option.Name, arg);
                _flags |= 1u << ONfMask;
                break;
            case "mask":
                NfMask = CtMask = Xt.ParseUInt("CONNMARK", option.Name, arg);
                _flags |= 1u << OMask;
                break;
        }
    }

    public override void FinalCheck(RuleContext ctx)
    {
        if ((_flags & AnyOp) == 0) throw Xt.Param("CONNMARK target: No operation specified");
        XtOptionTable.CheckCombinations("CONNMARK", s_table, _flags);
    }

    /// <summary>xt_connmark refuses a shift of 32 bits or more (whatever the mode).</summary>
    public override string? CheckEntry(KernelCheckContext ctx) => ShiftBits > 31 ? "Invalid argument" : null;

    public override void Save(StringBuilder sb)
    {
        switch (Mode)
        {
            case ConnmarkMode.Set:
                sb.Append(" --set-xmark ").Append(Xt.Hex(CtMark)).Append('/').Append(Xt.Hex(CtMask));
                break;
            case ConnmarkMode.Save:
                sb.Append(" --save-mark --nfmask ").Append(Xt.Hex(NfMask)).Append(" --ctmask ").Append(Xt.Hex(CtMask));
                break;
            case ConnmarkMode.Restore:
                sb.Append(" --restore-mark --nfmask ").Append(Xt.Hex(NfMask)).Append(" --ctmask ").Append(Xt.Hex(CtMask));
                break;
        }
        if (ShiftBits != 0) sb.Append(" --").Append(ShiftName).Append(' ').Append(ShiftBits);
    }

    private string ShiftName => ShiftDirection == ConnmarkShift.Left ? "left-shift-mark" : "right-shift-mark";

    public override void Print(StringBuilder sb, bool numeric)
    {
        switch (Mode)
        {
            case ConnmarkMode.Set:
                if (CtMark == 0) sb.Append(" CONNMARK and ").Append(Xt.Hex(~CtMask));
                else if (CtMark == CtMask) sb.Append(" CONNMARK or ").Append(Xt.Hex(CtMark));
                else if (CtMask == 0) sb.Append(" CONNMARK xor ").Append(Xt.Hex(CtMark));
                else if (CtMask == uint.MaxValue) sb.Append(" CONNMARK set ").Append(Xt.Hex(CtMark));
                else sb.Append(" CONNMARK xset ").Append(Xt.Hex(CtMark)).Append('/').Append(Xt.Hex(CtMask));
                break;
            case ConnmarkMode.Save:
                if (NfMask == uint.MaxValue && CtMask == uint.MaxValue) sb.Append(" CONNMARK save");
                else if (NfMask == CtMask) sb.Append(" CONNMARK save mask ").Append(Xt.Hex(NfMask));
                else sb.Append(" CONNMARK save nfmask ").Append(Xt.Hex(NfMask)).Append(" ctmask ~").Append(Xt.Hex(CtMask));
                break;
            case ConnmarkMode.Restore:
                if (CtMask == uint.MaxValue && NfMask == uint.MaxValue) sb.Append(" CONNMARK restore");
                else if (CtMask == NfMask) sb.Append(" CONNMARK restore mask ").Append(Xt.Hex(CtMask));
                else sb.Append(" CONNMARK restore ctmask ").Append(Xt.Hex(CtMask)).Append(" nfmask ~").Append(Xt.Hex(NfMask));
                break;
        }
        if (ShiftBits != 0) sb.Append(' ').Append(ShiftName).Append(' ').Append(ShiftBits);
    }
}
