using System.Text;
using SharpTables.Rules.Model;

namespace SharpTables.Rules.Extensions.Dscp;

/// <summary>DiffServ class names and their code points (dscp_helper.c), in iptables' order.</summary>
public static class DscpClasses
{
    public static readonly IReadOnlyList<(string Name, byte Value)> All =
    [
        ("CS0", 0x00), ("CS1", 0x08), ("CS2", 0x10), ("CS3", 0x18), ("CS4", 0x20), ("CS5", 0x28),
        ("CS6", 0x30), ("CS7", 0x38), ("BE", 0x00), ("AF11", 0x0a), ("AF12", 0x0c), ("AF13", 0x0e),
        ("AF21", 0x12), ("AF22", 0x14), ("AF23", 0x16), ("AF31", 0x1a), ("AF32", 0x1c), ("AF33", 0x1e),
        ("AF41", 0x22), ("AF42", 0x24), ("AF43", 0x26), ("EF", 0x2e),
    ];

    /// <summary>class_to_dscp: the first class the text starts with (case-insensitively), e.g. "ef" or "AF11x".</summary>
    public static byte Parse(string text)
    {
        foreach (var (name, value) in All)
            if (text.StartsWith(name, StringComparison.OrdinalIgnoreCase)) return value;
        throw Xt.Param($"Invalid DSCP value `{text}'");
    }
}

/// <summary><c>-m dscp</c> (libxt_dscp / xt_dscp): the 6-bit DSCP field.</summary>
public sealed class DscpExtension : MatchExtension
{
    public override string Name => "dscp";

    public override IReadOnlyList<OptionDef> Options { get; } =
    [
        new("dscp", ArgKind.Required, Invertible: true),
        new("dscp-class", ArgKind.Required, Invertible: true),
    ];

    public override MatchInstance Create() => new DscpMatch(this);
}

public sealed class DscpMatch(DscpExtension ext) : MatchInstance
{
    /// <summary>XT_DSCP_MAX.</summary>
    public const byte MaxValue = 0x3F;

    public override Extension Extension => ext;

    public byte Value { get; private set; }
    public bool Invert { get; private set; }

    public override void Parse(OptionDef option, string? arg, bool invert, RuleContext ctx)
    {
        Value = option.Name == "dscp"
            ? (byte)Xt.ParseUInt("dscp", "dscp", arg, 0, MaxValue)
            : DscpClasses.Parse(arg!);
        Invert |= invert;
    }

    public override void FinalCheck(RuleContext ctx)
    {
        if (SeenCount == 0) throw Xt.Param("DSCP match: Parameter --dscp is required");
        if (Seen("dscp") && Seen("dscp-class"))
            throw Xt.Param("dscp: option \"--dscp\" cannot be used together with \"--dscp-class\".\n");
    }

    public override void Save(StringBuilder sb) =>
        sb.Append(Invert ? " !" : "").Append(" --dscp 0x").Append(Value.ToString("x2"));

    public override void Print(StringBuilder sb, bool numeric) =>
        sb.Append(" DSCP match ").Append(Invert ? "!" : "").Append("0x").Append(Value.ToString("x2"));
}
