using System.Text.Json.Nodes;
using SharpTables.Engine;
using SharpTables.Engine.Conntrack;
using SharpTables.Packets;
using SharpTables.Packets.Capture;
using SharpTables.Rules.Model;

namespace SharpTables.Simulation;

/// <summary>Options for replaying a capture.</summary>
public sealed class CaptureOptions
{
    /// <summary>Addresses of the protected host: packets to them go through INPUT, packets from them through OUTPUT, the rest through FORWARD.</summary>
    public List<UInt128> Local { get; init; } = [];
    /// <summary>Interface packets arrive on.</summary>
    public string InInterface { get; init; } = "eth0";
    /// <summary>Interface forwarded packets leave through.</summary>
    public string OutInterface { get; init; } = "eth1";
    /// <summary>Where to write the packets that got through (raw IP pcap), or null.</summary>
    public Stream? WriteAccepted { get; init; }
    /// <summary>Called with each packet's number, verdict and deciding rule (for per-packet output); null to skip.</summary>
    public Action<long, ReadOnlyMemory<byte>, PacketResult>? PerPacket { get; init; }
    /// <summary>Called regularly with the bytes of the file read so far.</summary>
    public Action<long>? Progress { get; init; }
    public IEngineObserver? Observer { get; init; }
}

/// <summary>Totals of a capture replay.</summary>
public sealed record CaptureSummary(long Packets, long Accepted, long Dropped, long NotIp, TimeSpan Elapsed);

/// <summary>
/// Replays a pcap/pcapng capture through a ruleset: each packet is classified as INPUT, OUTPUT
/// or FORWARD by its addresses (<see cref="CaptureOptions.Local"/>, or "outgoing" in a Linux
/// cooked capture), time follows the capture's timestamps, and the per-packet path allocates
/// nothing. Checksums are not verified: captures on the sending host carry offloaded ones.
/// </summary>
public sealed class CaptureSimulator
{
    private readonly ManualTime _time = new();
    private readonly NetfilterEngine _engine;
    private readonly NetInterface _in;
    private readonly Ruleset _v4;
    private readonly Ruleset? _v6;

    public CaptureSimulator(Ruleset ipv4, Ruleset? ipv6, CaptureOptions options)
    {
        Options = options;
        var net = new HostNetwork { Forwarding = true };
        _in = net.Add(options.InInterface, [2, 0, 0, 0, 0, 1]);
        var outIf = options.OutInterface == options.InInterface ? _in : net.Add(options.OutInterface, [2, 0, 0, 0, 0, 2]);
        foreach (var a in options.Local)
            (a <= uint.MaxValue ? _in.IPv4 : _in.IPv6).Add((a, a <= uint.MaxValue ? 32 : 128));
        net.DefaultRoute = outIf;
        var state = new EngineState(_time, net, new ConntrackOptions { Checksum = false });
        if (options.Observer != null) state.Observer = options.Observer;
        _v4 = ipv4;
        _v6 = ipv6;
        _engine = new NetfilterEngine(state, CompiledRuleset.Compile(state, ipv4, ipv6));
    }

    public CaptureOptions Options { get; }
    public NetfilterEngine Engine => _engine;

    public CaptureSummary Run(Stream capture)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        using var reader = CaptureReader.Open(capture, leaveOpen: true);
        using var writer = Options.WriteAccepted != null ? new PcapWriter(Options.WriteAccepted, LinkType.Raw, leaveOpen: true) : null;
        var p = new Packet();
        long n = 0, accepted = 0, dropped = 0, notIp = 0, first = long.MinValue;
        var net = _engine.State.Network;
        while (reader.TryReadNext(out var rec))
        {
            Options.Progress?.Invoke(reader.Position);
            var ip = rec.IpPacket;
            if (ip.IsEmpty || !p.Load(ip)) { notIp++; continue; }
            n++;
            p.Number = n;
            if (first == long.MinValue) first = rec.TimestampNanoseconds;
            long ticks = (rec.TimestampNanoseconds - first) / 100;
            if (ticks > _time.GetTimestamp()) _time.Advance(TimeSpan.FromTicks(ticks - _time.GetTimestamp()));
            if (rec.Link.LinkType == LinkType.Ethernet && rec.Link.HeaderLength >= 14) p.SetMacHeader(rec.LinkHeaderBytes[..14]);
            bool outgoing = rec.Link.PacketType == LinkPacketType.Outgoing || net.IsLocal(p.Info.Version, p.Info.Source) && !net.IsLocal(p.Info.Version, p.Info.Destination);
            PacketResult r;
            if (outgoing) r = _engine.SendLocal(p);
            else
            {
                p.PktType = rec.Link.PacketType switch
                {
                    LinkPacketType.Broadcast => PacketType.Broadcast,
                    LinkPacketType.Multicast => PacketType.Multicast,
                    LinkPacketType.OtherHost => PacketType.OtherHost,
                    _ => PacketType.Host,
                };
                r = _engine.Receive(p, _in);
            }
            if (r.Verdict == Verdict.Accept)
            {
                accepted++;
                writer?.Write(rec.TimestampNanoseconds, p.Bytes);
            }
            else dropped++;
            Options.PerPacket?.Invoke(n, rec.Data, r);
        }
        writer?.Flush();
        return new CaptureSummary(n, accepted, dropped, notIp, sw.Elapsed);
    }

    /// <summary>The final counters in iptables-save -c form.</summary>
    public string Save(Family family)
    {
        var rules = family == Family.IPv6 ? _v6 : _v4;
        if (rules == null) return "";
        var copy = rules.Clone();
        _engine.Ruleset.CopyCountersTo(copy);
        return SharpTables.Rules.Commands.Restore.Save(copy, counters: true);
    }
}
