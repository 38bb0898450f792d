using System.Text;

namespace SharpTables.Rules.Extensions.Nfqueue;

/// <summary><c>-j NFQUEUE</c> (libxt_NFQUEUE revision 3 / xt_NFQUEUE): hand packets to userspace.</summary>
public sealed class NfqueueExtension : TargetExtension
{
    public override string Name => "NFQUEUE";

    public override IReadOnlyList<OptionDef> Options { get; } =
    [
        new("queue-num"),
        new("queue-balance"),
        new("queue-bypass", ArgKind.None),
        new("queue-cpu-fanout", ArgKind.None),
    ];

    public override TargetInstance Create() => new NfqueueTarget(this);
}

public sealed class NfqueueTarget(NfqueueExtension ext) : TargetInstance
{
    private const int ONum = 0, OBalance = 1, OBypass = 2, OCpuFanout = 3;

    private static readonly XtOptRow[] s_table =
    [
        new("queue-num", ONum, Excl: 1u << OBalance),
        new("queue-balance", OBalance, Excl: 1u << ONum),
        new("queue-bypass", OBypass),
        new("queue-cpu-fanout", OCpuFanout, Also: 1u << OBalance),
    ];

    private uint _flags;

    public override Extension Extension => ext;

    /// <summary>The (first) queue number.</summary>
    public ushort QueueNum { get; private set; }

    /// <summary>
    /// How many queues, starting at <see cref="QueueNum"/>, flows are spread over (1 = one queue).
    /// The kernel field is 16 bits: <c>--queue-balance 0:65535</c> wraps to 0, which the kernel refuses.
    /// </summary>
    public ushort QueuesTotal { get; private set; } = 1;

    /// <summary>Accept the packet instead of dropping it when no program listens on the queue.</summary>
    public bool Bypass { get; private set; }

    /// <summary>Pick the queue by CPU instead of by flow hash.</summary>
    public bool CpuFanout { get; private set; }

    public override void Parse(OptionDef option, string? arg, bool invert, RuleContext ctx)
    {
        switch (option.Name)
        {
            case "queue-num":
                QueueNum = (ushort)Xt.ParseUInt("NFQUEUE", option.Name, arg, 0, ushort.MaxValue);
                _flags |= 1u << ONum;
                break;
            case "queue-balance":
            {
                var values = ParseRange(option.Name, arg!);
                if (values.Count != 2) throw Xt.Param($"Bad range \"{arg}\"");
                if (values[0] >= values[1]) throw Xt.Param($"{values[0]} should be less than {values[1]}");
                QueueNum = (ushort)values[0];
                QueuesTotal = unchecked((ushort)(values[1] - values[0] + 1));
                _flags |= 1u << OBalance;
                break;
            }
            case "queue-bypass":
                Bypass = true;
                _flags |= 1u << OBypass;
                break;
            case "queue-cpu-fanout":
                CpuFanout = true;
                _flags |= 1u << OCpuFanout;
                break;
        }
    }

    /// <summary>xtopt's XTTYPE_UINT16RC: up to two ':'-separated numbers, missing ones 0 / 65535.</summary>
    private static List<uint> ParseRange(string option, string arg)
    {
        var values = new List<uint>(2);
        int pos = 0;
        while (true)
        {
            if (values.Count == 2)
                throw Xt.Param($"NFQUEUE: Too many components for option \"--{option}\" (max: 2)\n");
            int end;
            uint value;
            if (pos == arg.Length || arg[pos] == ':')
            {
                end = pos;
                value = values.Count == 1 ? ushort.MaxValue : 0u;
            }
            else
            {
                if (!XtParsing.StrToUL(arg, pos, 0, ushort.MaxValue, out ulong v, out end))
                    throw Xt.Param($"NFQUEUE: bad value for option \"--{option}\" near \"{arg[pos..]}\", or out of range (0-65535).\n");
                if (end != arg.Length && arg[end] != ':')
                    throw Xt.Param($"NFQUEUE: Argument to \"--{option}\" has unexpected characters near \"{arg[end..]}\".\n");
                value = (uint)v;
            }
            values.Add(value);
            if (end == arg.Length) break;
            pos = end + 1;
        }
        return values;
    }

    public override void FinalCheck(RuleContext ctx) => XtOptionTable.CheckCombinations("NFQUEUE", s_table, _flags);

    /// <summary>xt_NFQUEUE's check: a balance over zero queues (a wrapped total) is invalid.</summary>
    public override string? CheckEntry(KernelCheckContext ctx) =>
        QueuesTotal == 0 ? "Invalid argument" : null;

    public override void Save(StringBuilder sb)
    {
        if (QueuesTotal > 1) sb.Append(" --queue-balance ").Append(QueueNum).Append(':').Append(QueueNum + QueuesTotal - 1);
        else sb.Append(" --queue-num ").Append(QueueNum);
        if (Bypass) sb.Append(" --queue-bypass");
        if (CpuFanout) sb.Append(" --queue-cpu-fanout");
    }

    public override void Print(StringBuilder sb, bool numeric)
    {
        if (QueuesTotal > 1) sb.Append(" NFQUEUE balance ").Append(QueueNum).Append(':').Append(QueueNum + QueuesTotal - 1);
        else sb.Append(" NFQUEUE num ").Append(QueueNum);
        if (Bypass) sb.Append(" bypass");
        if (CpuFanout) sb.Append(" cpu-fanout");
    }
}
