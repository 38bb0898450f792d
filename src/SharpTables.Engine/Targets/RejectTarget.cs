using SharpTables.Rules.Extensions.Reject;

namespace SharpTables.Engine.Targets;

/// <summary>Compiles <c>-j REJECT</c> (ipt_REJECT).</summary>
public sealed class RejectTargetCompiler : TargetCompiler<RejectTarget>
{
    /// <inheritdoc/>
    protected override CompiledTarget Compile(RejectTarget target, CompileContext ctx) =>
        new CompiledRejectTarget(target.With, IcmpRateLimiter.For(ctx.State));
}

/// <summary>
/// reject_tg: queues the answer the kernel sends (a TCP RST or an ICMP destination unreachable,
/// see <see cref="RejectReplies"/>) on <see cref="EngineState.LocalOut"/>, from where the engine
/// sends it through OUTPUT and POSTROUTING, and drops the packet (NF_DROP) whether or not an
/// answer could be sent.
/// </summary>
public sealed class CompiledRejectTarget(RejectWith with, IcmpRateLimiter limiter) : CompiledTarget
{
    /// <summary>The ICMP code of each reply type (ICMP_NET_UNREACH … ICMP_PKT_FILTERED); -1 for the TCP reset.</summary>
    public static int IcmpCode(RejectWith with) => with switch
    {
        RejectWith.IcmpNetUnreachable => 0,
        RejectWith.IcmpHostUnreachable => 1,
        RejectWith.IcmpProtoUnreachable => 2,
        RejectWith.IcmpPortUnreachable => 3,
        RejectWith.IcmpNetProhibited => 9,
        RejectWith.IcmpHostProhibited => 10,
        RejectWith.IcmpAdminProhibited => 13,
        _ => -1,
    };

    /// <inheritdoc/>
    public override TargetVerdict Execute(Packet p, in TargetContext ctx)
    {
        var queue = ctx.State.LocalOut;
        var buffer = queue.Reserve();
        if (buffer.IsEmpty) return TargetVerdict.Drop;
        int code = IcmpCode(with);
        int length = with == RejectWith.TcpReset
            ? RejectReplies.TcpReset(p, ctx.State.Network, buffer)
            : code >= 0 ? RejectReplies.Unreachable(p, (byte)code, ctx.State.Network, limiter, buffer) : 0;
        if (length > 0) queue.Commit(length, p, fromSocket: with != RejectWith.TcpReset);
        if (length > 0 && with == RejectWith.TcpReset) ctx.State.Conntrack.SetClosing(p.Conn);
        return TargetVerdict.Drop;
    }
}
