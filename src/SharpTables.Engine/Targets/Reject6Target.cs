using SharpTables.Rules.Extensions.Reject;

namespace SharpTables.Engine.Targets;

/// <summary><c>-j REJECT</c> in ip6tables (ip6t_REJECT): an ICMPv6 destination-unreachable with the chosen code, or a TCP reset; the packet is dropped.</summary>
public sealed class Reject6TargetCompiler : TargetCompiler<Reject6Target>
{
    protected override CompiledTarget Compile(Reject6Target t, CompileContext ctx) => new Compiled(t.With, IcmpRateLimiter.For(ctx.State));

    private sealed class Compiled(Reject6With with, IcmpRateLimiter limiter) : CompiledTarget
    {
        public override TargetVerdict Execute(Packet p, in TargetContext ctx)
        {
            var queue = ctx.State.LocalOut;
            var buffer = queue.Reserve();
            if (buffer.IsEmpty) return TargetVerdict.Drop;
            int length = with switch
            {
                Reject6With.TcpReset => RejectReplies.TcpReset6(p, ctx.State.Network, buffer),
                // ICMPV6_NOROUTE 0, ADM_PROHIBITED 1, NOT_NEIGHBOUR 2, ADDR_UNREACH 3, PORT_UNREACH 4, POLICY_FAIL 5, REJECT_ROUTE 6
                Reject6With.Icmp6NoRoute => RejectReplies.Unreachable6(p, 0, ctx.State.Network, limiter, buffer),
                Reject6With.Icmp6AdmProhibited => RejectReplies.Unreachable6(p, 1, ctx.State.Network, limiter, buffer),
                Reject6With.Icmp6NotNeighbour => RejectReplies.Unreachable6(p, 2, ctx.State.Network, limiter, buffer),
                Reject6With.Icmp6AddrUnreachable => RejectReplies.Unreachable6(p, 3, ctx.State.Network, limiter, buffer),
                Reject6With.Icmp6PortUnreachable => RejectReplies.Unreachable6(p, 4, ctx.State.Network, limiter, buffer),
                Reject6With.Icmp6PolicyFail => RejectReplies.Unreachable6(p, 5, ctx.State.Network, limiter, buffer),
                Reject6With.Icmp6RejectRoute => RejectReplies.Unreachable6(p, 6, ctx.State.Network, limiter, buffer),
                _ => 0, // icmp6-echoreply: the kernel's ip6t_REJECT ignores it
            };
            if (length > 0) queue.Commit(length, p, fromSocket: with != Reject6With.TcpReset);
            if (length > 0 && with == Reject6With.TcpReset) ctx.State.Conntrack.SetClosing(p.Conn);
            return TargetVerdict.Drop;
        }
    }
}
