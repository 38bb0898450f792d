using SharpTables.Packets;
using SharpTables.Rules.Model;

namespace SharpTables.Engine;

public sealed partial class NetfilterEngine
{
    private const int MaxJumpDepth = 64;

    /// <summary>Per-thread scratch for the walker (jump stack), so traversal allocates nothing.</summary>
    [ThreadStatic] private static (CompiledChain Chain, int Index)[]? t_stack;

    /// <summary>
    /// A packet arrives on <paramref name="inIface"/>: PREROUTING, the routing decision, then INPUT
    /// (for this host) or FORWARD and POSTROUTING. Load the packet (and its MAC header) first.
    /// Packets the host generates meanwhile (REJECT replies) are sent through OUTPUT afterwards.
    /// Threads may call this and <see cref="SendLocal"/> concurrently, each with its own packet.
    /// </summary>
    public PacketResult Receive(Packet p, NetInterface inIface)
    {
        var slot = State.Walks.Enter();
        try
        {
            return ReceiveWalk(p, inIface, slot);
        }
        finally
        {
            State.Walks.Exit(slot);
        }
    }

    /// <summary>
    /// The host sends a packet (a raw socket, a reply of the host model): OUTPUT, routing,
    /// POSTROUTING, and for a local destination the loopback delivery (PREROUTING and INPUT on lo).
    /// </summary>
    public PacketResult SendLocal(Packet p)
    {
        var slot = State.Walks.Enter();
        try
        {
            return SendLocalWalk(p, slot);
        }
        finally
        {
            State.Walks.Exit(slot);
        }
    }

    private PacketResult ReceiveWalk(Packet p, NetInterface inIface, WalkGate.Slot slot)
    {
        var rs = _ruleset;
        p.In = inIface;
        p.Out = null;
        var decider = new Decider(rs.Counters.For(slot));
        PacketResult result;
        if (!IpReceiveChecks(p))
            result = new PacketResult { Verdict = Verdict.Drop, Hook = Hook.PreRouting };
        else
            result = ReceiveCore(rs, p, ref decider);
        result = WithDeliveredConn(result, p);
        // Replies may hold this packet's (possibly unconfirmed) entry: release it after them.
        FlushLocalOut(rs, slot, p.Number);
        State.Conntrack.Release(p);
        return result;
    }

    private PacketResult SendLocalWalk(Packet p, WalkGate.Slot slot)
    {
        var rs = _ruleset;
        var decider = new Decider(rs.Counters.For(slot));
        var result = SendLocalCore(rs, p, ref decider);
        result = WithDeliveredConn(result, p);
        FlushLocalOut(rs, slot, p.Number);
        State.Conntrack.Release(p);
        return result;
    }

    private PacketResult ReceiveCore(CompiledRuleset rs, Packet p, ref Decider decider)
    {
        var fam = rs.For(p.Info.Version);
        p.Hook = Hook.PreRouting;
        var v = RunHook(fam, p, Hook.PreRouting, ref decider);
        if (v != Verdict.Accept) return decider.Result(v, Hook.PreRouting, p);

        var net = State.Network;
        if (IsUnjoinedMulticast(p)) return decider.Result(Verdict.Drop, Hook.PreRouting, p, noRule: true);
        if (net.IsLocal(p.Info.Version, p.Info.Destination) || IsLocalMulticastOrBroadcast(p))
        {
            // ip_local_deliver reassembles IPv4 fragments before the INPUT hook, with or without
            // conntrack: a lone fragment never reaches INPUT. (IPv6 reassembles after it.)
            if (p.Info.Version == 4 && !fam.ConntrackEnabled
                && (p.Info.IsFragment || (p.Info.Flags & PacketFlags.MoreFragments) != 0)
                && !State.Conntrack.Defrag(p))
                return decider.Result(Verdict.Stolen, Hook.PreRouting, p, noRule: true);
            p.Hook = Hook.Input;
            v = RunHook(fam, p, Hook.Input, ref decider);
            return decider.Result(v, Hook.Input, p) with { Local = v == Verdict.Accept };
        }
        if (!net.Forwarding) return decider.Result(Verdict.Drop, Hook.PreRouting, p, noRule: true);
        var outIface = net.Route(p.Info.Version, p.Info.Destination);
        if (outIface == null) return decider.Result(Verdict.Drop, Hook.PreRouting, p, noRule: true);
        // ip_forward: hop limit exhausted packets never reach FORWARD; the TTL is decremented before it.
        if (p.Info.Ttl <= 1)
        {
            SendTimeExceeded(p);
            return decider.Result(Verdict.Drop, Hook.PreRouting, p, noRule: true);
        }
        DecrementTtl(p);
        if (outIface == p.In) SendRedirect(p, outIface);
        p.Out = outIface;
        p.Hook = Hook.Forward;
        v = RunHook(fam, p, Hook.Forward, ref decider);
        if (v != Verdict.Accept) return decider.Result(v, Hook.Forward, p);
        p.Hook = Hook.PostRouting;
        v = RunHook(fam, p, Hook.PostRouting, ref decider);
        return decider.Result(v, Hook.PostRouting, p) with { Out = outIface };
    }

    private PacketResult SendLocalCore(CompiledRuleset rs, Packet p, ref Decider decider)
    {
        var fam = rs.For(p.Info.Version);
        var net = State.Network;
        p.In = null;
        p.Out = net.Route(p.Info.Version, p.Info.Destination);
        // __mkroute_output refuses a loopback source on any device but lo (-EINVAL): a reply from
        // 127.0.0.1 (to a packet REDIRECTed there in OUTPUT) to an outside address never leaves.
        if (p.Info.Version == 4 && Ipv4.IsLoopback((uint)p.Info.Source) && p.Out is { IsLoopback: false })
            return decider.Result(Verdict.Drop, Hook.Output, p, noRule: true);
        // A locally generated skb starts with pkt_type 0 (PACKET_HOST), which is what -m pkttype
        // sees in OUTPUT and POSTROUTING; PACKET_OUTGOING exists only for packet sockets' copies.
        p.PktType = PacketType.Host;
        p.Hook = Hook.Output;
        UInt128 dstBefore = p.Info.Destination;
        var v = RunHook(fam, p, Hook.Output, ref decider);
        if (v != Verdict.Accept) return decider.Result(v, Hook.Output, p);
        if (p.Info.Destination != dstBefore) p.Out = net.Route(p.Info.Version, p.Info.Destination); // DNAT in OUTPUT reroutes
        if (p.Out == null) return decider.Result(Verdict.Drop, Hook.Output, p, noRule: true);
        p.Hook = Hook.PostRouting;
        v = RunHook(fam, p, Hook.PostRouting, ref decider);
        var result = decider.Result(v, Hook.PostRouting, p) with { Out = p.Out };
        if (v != Verdict.Accept || !p.Out.IsLoopback) return result;

        // Looped back: the same skb (with its conntrack entry) comes in on lo.
        var lo = p.Out;
        p.In = lo;
        p.Out = null;
        p.PktType = PacketType.Host;
        Span<byte> mac = stackalloc byte[14];
        mac[12] = p.Info.Version == 6 ? (byte)0x86 : (byte)0x08;
        mac[13] = p.Info.Version == 6 ? (byte)0xdd : (byte)0x00;
        p.SetMacHeader(mac);
        p.Hook = Hook.PreRouting;
        v = RunHook(fam, p, Hook.PreRouting, ref decider);
        if (v != Verdict.Accept) return decider.Result(v, Hook.PreRouting, p);
        p.Hook = Hook.Input;
        v = RunHook(fam, p, Hook.Input, ref decider);
        return decider.Result(v, Hook.Input, p) with { Local = v == Verdict.Accept, Out = lo };
    }

    /// <summary>A packet delivered to this host reports the confirmed entry it ended with (see <see cref="PacketResult.Conn"/>).</summary>
    private static PacketResult WithDeliveredConn(in PacketResult result, Packet p) =>
        result.Local && !p.Untracked && p.Conn is { } ct && ct.Has(Conntrack.ConnStatus.Confirmed)
            ? result with { Conn = ct, CtInfo = p.CtInfo }
            : result;

    /// <summary>Runs REJECT replies and other generated packets through OUTPUT/POSTROUTING.</summary>
    private void FlushLocalOut(CompiledRuleset rs, WalkGate.Slot slot, long number)
    {
        var q = slot.LocalOut;
        if (q.Count == 0) return;
        var p = t_reply ??= new Packet();
        // A reply may be REJECTed in turn (an ICMP error about a RST): the new packet joins the
        // queue and is sent after it. The chain ends by itself (no RST answers a RST, no ICMP error
        // an ICMP error), and the queue is bounded.
        for (int i = 0; i < q.Count; i++)
        {
            p.Load(q.Get(i));
            p.Number = number;
            // Every generated packet with a socket is an ICMP error sent by icmp_send.
            p.HasSocket = p.KernelSocket = p.IcmpSocket = q.FromSocket(i);
            var attached = q.AttachedConn(i, out var ctInfo);
            if (attached != null)
            {
                // nf_ct_attach: conntrack sees an entry already and leaves the packet alone.
                p.Conn = attached;
                p.CtInfo = ctInfo;
                p.ConntrackDone = true;
            }
            var d = new Decider(rs.Counters.For(slot));
            var r = SendLocalCore(rs, p, ref d);
            State.Observer.OnLocalOut(p, r);
            // The inherited entry belongs to the packet that caused the reply; an own one may be
            // inherited by a later reply, so both are released only after the whole queue.
            q.SetOwned(i, attached != null && p.Conn == attached ? null : p.Conn);
            p.Conn = null;
        }
        for (int i = 0; i < q.Count; i++) State.Conntrack.Release(q.Owned(i));
        q.Clear();
    }

    [ThreadStatic] private static Packet? t_reply;

    /// <summary>ip_rcv_core / ipv6_rcv: malformed IP headers are dropped before PREROUTING.</summary>
    private static bool IpReceiveChecks(Packet p)
    {
        ref readonly var info = ref p.Info;
        if (info.Version == 4)
        {
            if ((info.Flags & (PacketFlags.BadNetworkHeader | PacketFlags.Truncated)) != 0 && p.Length < info.TotalLength) return false;
            if ((info.Flags & PacketFlags.BadNetworkHeader) != 0) return false;
            if (p.Length < info.HeaderLength) return false;
            if (Checksum.Compute(p.Bytes[..info.HeaderLength]) != 0) return false;
            // The kernel trims link-layer padding beyond the total length.
            if (p.Length > info.TotalLength) { p.Length = info.TotalLength; p.Reparse(); }
            return true;
        }
        if (info.Version == 6)
        {
            if (p.Length < 40 || p.Length < info.TotalLength) return false;
            if (p.Length > info.TotalLength) { p.Length = info.TotalLength; p.Reparse(); }
            return true;
        }
        return false;
    }

    /// <summary>
    /// ip_route_input: an IPv4 multicast datagram is delivered only for a group an interface has
    /// joined, and never forwarded without a multicast routing daemon. The host model joins only
    /// the all-hosts group 224.0.0.1 (which every interface joins when it comes up).
    /// </summary>
    private static bool IsUnjoinedMulticast(Packet p)
    {
        if (p.Info.Version != 4) return false;
        uint d = (uint)p.Info.Destination;
        return (d >> 28) == 0xe && d != 0xe0000001;
    }

    private bool IsLocalMulticastOrBroadcast(Packet p)
    {
        if (p.Info.Version == 4)
        {
            uint d = (uint)p.Info.Destination;
            return (d >> 28) == 0xe || State.Network.IsBroadcast(p.Info.Destination);
        }
        return (byte)(p.Info.Destination >> 120) == 0xff;
    }

    /// <summary>ip_forward's too_many_hops: an ICMP time exceeded in transit.</summary>
    private void SendTimeExceeded(Packet p) => QueueIcmpError(p, 11, 0, 0);

    /// <summary>
    /// ip_forward's ICMP host redirect (before FORWARD, whatever FORWARD decides): the packet leaves
    /// through the interface it came in on, and its sender could reach the destination directly.
    /// Only destinations on a connected subnet (next hop = destination) are modelled; the engine
    /// knows no gateway of its default route.
    /// </summary>
    private void SendRedirect(Packet p, NetInterface iface)
    {
        if (p.Info.Version != 4) return;
        uint src = (uint)p.Info.Source, dst = (uint)p.Info.Destination;
        if (!OnLink(iface, src) || !OnLink(iface, dst)) return;
        if (!Targets.IcmpRateLimiter.For(State).RedirectAllow(src)) return;
        QueueIcmpError(p, 5, 1, dst);
    }

    /// <summary>
    /// icmp_send from the forwarding path: the error goes back through OUTPUT after this packet,
    /// through the ICMP socket and carrying the packet's conntrack entry (icmp_glue_bits attaches it).
    /// </summary>
    private void QueueIcmpError(Packet p, byte type, byte code, uint restOfHeader)
    {
        var queue = State.LocalOut;
        var buffer = queue.Reserve();
        if (buffer.IsEmpty) return;
        int length = Targets.RejectReplies.IcmpSend(p, type, code, State.Network, Targets.IcmpRateLimiter.For(State), buffer, restOfHeader);
        if (length > 0) queue.Commit(length, p, fromSocket: true);
    }

    private static bool OnLink(NetInterface iface, uint address)
    {
        foreach (var (a, prefix) in iface.IPv4)
        {
            uint mask = Ipv4.MaskFromPrefix(prefix);
            if (((uint)a & mask) == (address & mask)) return true;
        }
        return false;
    }

    /// <summary>ip_decrease_ttl: the hop count drops by one, the IPv4 header checksum follows.</summary>
    private static void DecrementTtl(Packet p)
    {
        PacketRewriter.SetTtl(p.WritableBytes, (byte)(p.Info.Ttl - 1));
        p.Info.Ttl--;
    }

    /// <summary>Runs every step of one hook; returns Accept to continue to the next hook.</summary>
    private Verdict RunHook(FamilyRules fam, Packet p, Hook hook, ref Decider decider)
    {
        if (hook == Hook.PreRouting) p.Seen |= HookMask.PreRouting;
        var v = RunHookSteps(fam, p, hook, ref decider);
        if (v == Verdict.Accept && hook != Hook.PreRouting) p.Seen |= (HookMask)(1 << (int)hook);
        return v;
    }

    private Verdict RunHookSteps(FamilyRules fam, Packet p, Hook hook, ref Decider decider)
    {
        var steps = fam.Hooks[(int)hook];
        var state = State;
        for (int s = 0; s < steps.Length; s++)
        {
            ref readonly var step = ref steps[s];
            switch (step.Kind)
            {
                case StepKind.Defrag:
                    // nf_defrag (priority -400, only while conntrack is in use): a fragment is held
                    // until its datagram is complete, then the whole datagram goes on.
                    if (p.ConntrackDone || p.Untracked) break;
                    if (!state.Conntrack.Defrag(p)) { decider.NoRule(); return Verdict.Stolen; }
                    break;
                case StepKind.ConntrackIn:
                    if (p.ConntrackDone || p.Untracked) break;
                    if (!state.Conntrack.In(p)) { decider.NoRule(); return Verdict.Drop; }
                    break;
                case StepKind.Confirm:
                    // The helpers and the confirmation run last (priority INT_MAX): an observer after
                    // every table (oracle-run's, at 500) has seen the packet even when they drop it.
                    p.Seen |= (HookMask)(1 << (int)hook);
                    if (!state.Conntrack.Help(p) || !state.Conntrack.Confirm(p)) { decider.NoRule(); return Verdict.Drop; }
                    break;
                case StepKind.Nat:
                {
                    if (p.Conn == null || p.Untracked) break;
                    if (state.Nat.NeedsChain(p, hook))
                    {
                        var v = RunChain(p, step.Chain!, ref decider);
                        if (v != Verdict.Accept) return v;
                    }
                    if (!state.Nat.Complete(p, hook)) { decider.NoRule(); return Verdict.Drop; }
                    break;
                }
                default:
                {
                    var v = RunChain(p, step.Chain!, ref decider);
                    if (v != Verdict.Accept) return v;
                    break;
                }
            }
        }
        return Verdict.Accept;
    }

    /// <summary>ipt_do_table: walks a built-in chain with jumps, gotos and returns.</summary>
    private Verdict RunChain(Packet p, CompiledChain start, ref Decider decider)
    {
        var stack = t_stack ??= new (CompiledChain, int)[MaxJumpDepth];
        int depth = 0;
        var chain = start;
        int i = 0;
        var observer = State.Observer;
        bool trace = observer.Tracing;
        int bytes = p.Length;
        while (true)
        {
            var rules = chain.Rules;
            if (i >= rules.Length)
            {
                // End of a user chain = implicit RETURN; end of the built-in chain = policy.
                if (depth > 0)
                {
                    if (trace) observer.OnTrace(p, chain.Table, chain.Name, TraceKind.Return, 0);
                    (chain, i) = stack[--depth];
                    i++;
                    continue;
                }
                return Policy(p, start, ref decider, trace, observer, bytes);
            }
            var rule = rules[i];
            if (!rule.HeaderMatches(p)) { i++; continue; }
            bool hotdrop = false;
            bool matched = true;
            var matches = rule.Matches;
            for (int m = 0; m < matches.Length; m++)
            {
                if (!matches[m].Matches(p, ref hotdrop)) { matched = false; break; }
            }
            if (hotdrop) { decider.Set(chain, rule.Number, drop: true); return Verdict.Drop; }
            if (!matched) { i++; continue; }
            decider.Count(rule.CounterIndex, bytes);
            if (trace) observer.OnTrace(p, chain.Table, chain.Name, TraceKind.Rule, rule.Number);
            switch (rule.Action)
            {
                case RuleAction.None:
                    i++;
                    continue;
                case RuleAction.Accept:
                    decider.Set(chain, rule.Number);
                    return Verdict.Accept;
                case RuleAction.Drop:
                    decider.Set(chain, rule.Number, drop: true);
                    return Verdict.Drop;
                case RuleAction.Queue:
                    decider.Set(chain, rule.Number);
                    return Verdict.Queue;
                case RuleAction.Jump:
                    if (depth == MaxJumpDepth) { decider.Set(chain, rule.Number, drop: true); return Verdict.Drop; }
                    stack[depth++] = (chain, i);
                    chain = rule.JumpTo!;
                    i = 0;
                    continue;
                case RuleAction.Goto:
                    chain = rule.JumpTo!;
                    i = 0;
                    continue;
                case RuleAction.Return:
                    if (depth == 0) return Policy(p, start, ref decider, trace, observer, bytes);
                    (chain, i) = stack[--depth];
                    i++;
                    continue;
                default:
                {
                    var tv = rule.Target!.Execute(p, new TargetContext(State, chain.Table, chain.Name, rule.Number));
                    bytes = p.Length; // mangle targets may change the length (TCPMSS)
                    switch (tv)
                    {
                        case TargetVerdict.Continue:
                            i++;
                            continue;
                        case TargetVerdict.Return:
                            if (depth == 0) return Policy(p, start, ref decider, trace, observer, bytes);
                            (chain, i) = stack[--depth];
                            i++;
                            continue;
                        case TargetVerdict.Accept:
                            decider.Set(chain, rule.Number);
                            return Verdict.Accept;
                        case TargetVerdict.Queue:
                            decider.Set(chain, rule.Number);
                            return Verdict.Queue;
                        case TargetVerdict.Stolen:
                            decider.Set(chain, rule.Number);
                            return Verdict.Stolen;
                        default:
                            decider.Set(chain, rule.Number, drop: true);
                            return Verdict.Drop;
                    }
                }
            }
        }
    }

    private static Verdict Policy(Packet p, CompiledChain chain, ref Decider decider, bool trace, IEngineObserver observer, int bytes)
    {
        decider.Count(chain.PolicyIndex, bytes);
        if (trace) observer.OnTrace(p, chain.Table, chain.Name, TraceKind.Policy, 0);
        decider.Set(chain, 0, chain.PolicyDrop);
        return chain.PolicyDrop ? Verdict.Drop : Verdict.Accept;
    }

    /// <summary>Remembers which rule decided: the last terminal decision, preferring the filter table's. Counts into this thread's counters.</summary>
    private struct Decider(long[] counters)
    {
        private CompiledChain? _chain;
        private int _rule;
        private bool _filterSeen;

        /// <summary>One more packet of <paramref name="bytes"/> for the counter at <paramref name="index"/> (only this thread writes these counts).</summary>
        public readonly void Count(int index, int bytes)
        {
            counters[index]++;
            counters[index + 1] += bytes;
        }

        public void Set(CompiledChain chain, int rule, bool drop = false)
        {
            bool filter = chain.Table == "filter";
            if (_filterSeen && !filter && !drop) return;
            _chain = chain;
            _rule = rule;
            _filterSeen |= filter;
        }

        public void NoRule()
        {
            _chain = null;
            _rule = 0;
        }

        public readonly PacketResult Result(Verdict v, Hook hook, Packet p, bool noRule = false) => new()
        {
            Verdict = v,
            Hook = hook,
            Table = noRule ? null : _chain?.Table,
            Chain = noRule ? null : _chain?.Name,
            Rule = noRule ? 0 : _rule,
            Family = p.Info.Version,
            QueueNumber = p.QueueNumber,
            QueueBypass = p.QueueBypass,
        };
    }
}
