using System.Buffers.Binary;
using System.Net;
using SharpTables.Rules.Extensions;
using SharpTables.Rules.Model;
using SharpTables.Rules.Parsing;

namespace SharpTables.Engine.Tests.Stateful;

/// <summary>
/// Helpers for the stateful match tests: parse a rule with the Rules project, compile one of its
/// matches against an <see cref="EngineState"/> on a manual clock, and build IPv4/IPv6 packets.
/// </summary>
internal sealed class StatefulKit
{
    public ManualTime Time { get; } = new();
    public EngineState State { get; }
    public Packet Packet { get; } = new();

    /// <param name="bootJiffies">Jiffies the clock starts at (to replay oracle timestamps).</param>
    public StatefulKit(ulong bootJiffies = EngineClock.InitialJiffies)
    {
        State = new EngineState(Time);
        // EngineState makes its clock at INITIAL_JIFFIES; tests that replay kernel timestamps need another start.
        if (bootJiffies != EngineClock.InitialJiffies)
            Time.Advance(TimeSpan.FromTicks((long)(bootJiffies - EngineClock.InitialJiffies) * (TimeSpan.TicksPerSecond / EngineClock.Hz)));
    }

    public ulong Jiffies => State.Clock.Jiffies;

    public void AdvanceJiffies(ulong j) => Time.Advance(TimeSpan.FromTicks((long)j * (TimeSpan.TicksPerSecond / EngineClock.Hz)));

    /// <summary>Parses <c>-A INPUT RULE</c> (ip6tables syntax when <paramref name="family"/> is IPv6).</summary>
    public static Rule ParseRule(string rule, Family family = Family.IPv4)
    {
        var args = new List<string> { "-A", "INPUT" };
        args.AddRange(rule.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        return Assert.Single(new CommandParser(family).Parse(args).Rules);
    }

    /// <summary>Compiles the rule's match of type <typeparamref name="T"/>.</summary>
    public CompiledMatch Compile<T>(Rule rule, Family family = Family.IPv4) where T : MatchInstance
    {
        int index = rule.Matches.IndexOf(rule.Matches.OfType<T>().Single());
        var ctx = new CompileContext { State = State, Family = family, Table = "filter", Chain = "INPUT", Rule = rule, MatchIndex = index };
        return CompilerRegistry.CompileMatch(rule.Matches[index], ctx);
    }

    public CompiledMatch Compile<T>(string rule, Family family = Family.IPv4) where T : MatchInstance =>
        Compile<T>(ParseRule(rule, family), family);

    /// <summary>Runs one match on the current <see cref="Packet"/>.</summary>
    public bool Run(CompiledMatch m) => Run(m, out _);

    public bool Run(CompiledMatch m, out bool hotdrop)
    {
        hotdrop = false;
        return m.Matches(Packet, ref hotdrop);
    }

    /// <summary>Loads an IPv4 TCP packet (20-byte headers) into <see cref="Packet"/>.</summary>
    public Packet Tcp(string src, string dst, ushort sport, ushort dport, byte flags = 0x02, byte ttl = 64) =>
        Load(Ipv4(src, dst, 6, ttl, TcpHeader(sport, dport, flags)));

    /// <summary>Loads an IPv4 UDP packet with <paramref name="payload"/> zero bytes of data.</summary>
    public Packet Udp(string src, string dst, ushort sport, ushort dport, byte ttl = 64, int payload = 0) =>
        Load(Ipv4(src, dst, 17, ttl, UdpHeader(sport, dport, payload)));

    /// <summary>Loads an IPv6 UDP packet.</summary>
    public Packet Udp6(string src, string dst, ushort sport, ushort dport, byte hopLimit = 64)
    {
        var udp = UdpHeader(sport, dport, 0);
        var b = new byte[40 + udp.Length];
        b[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(4), (ushort)udp.Length);
        b[6] = 17;
        b[7] = hopLimit;
        IPAddress.Parse(src).GetAddressBytes().CopyTo(b, 8);
        IPAddress.Parse(dst).GetAddressBytes().CopyTo(b, 24);
        udp.CopyTo(b, 40);
        return Load(b);
    }

    private Packet Load(byte[] bytes)
    {
        Assert.True(Packet.Load(bytes));
        Packet.In = null;
        Packet.Out = null;
        return Packet;
    }

    private static byte[] Ipv4(string src, string dst, byte proto, byte ttl, byte[] l4)
    {
        var b = new byte[20 + l4.Length];
        b[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(2), (ushort)b.Length);
        b[8] = ttl;
        b[9] = proto;
        IPAddress.Parse(src).GetAddressBytes().CopyTo(b, 12);
        IPAddress.Parse(dst).GetAddressBytes().CopyTo(b, 16);
        l4.CopyTo(b, 20);
        return b;
    }

    private static byte[] TcpHeader(ushort sport, ushort dport, byte flags)
    {
        var t = new byte[20];
        BinaryPrimitives.WriteUInt16BigEndian(t, sport);
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(2), dport);
        t[12] = 5 << 4;
        t[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(14), 64240);
        return t;
    }

    private static byte[] UdpHeader(ushort sport, ushort dport, int payload)
    {
        var u = new byte[8 + payload];
        BinaryPrimitives.WriteUInt16BigEndian(u, sport);
        BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(2), dport);
        BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(4), (ushort)u.Length);
        return u;
    }

    /// <summary>An IPv4 address as the engine keeps it (host order in the low 32 bits).</summary>
    public static UInt128 V4(string a) => BinaryPrimitives.ReadUInt32BigEndian(IPAddress.Parse(a).GetAddressBytes());
}
