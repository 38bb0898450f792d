using System.Buffers.Binary;
using System.Net;
using SharpTables.Rules.Model;
using SharpTables.Rules.Parsing;

namespace SharpTables.Engine.Tests.Output;

/// <summary>
/// A tiny packet builder for the LOG and REJECT tests: headers laid out as scapy (the oracle's
/// packet generator) lays them out, with correct checksums. Kept private to these tests until
/// the shared packet builder lands.
/// </summary>
internal static class TestPackets
{
    public static byte[] Mac(string s) => s.Split(':').Select(x => Convert.ToByte(x, 16)).ToArray();

    /// <summary>Ethernet header as it arrives at <paramref name="dstMac"/> from <paramref name="srcMac"/>.</summary>
    public static byte[] EtherHeader(string dstMac, string srcMac, ushort etherType = 0x0800) =>
        [.. Mac(dstMac), .. Mac(srcMac), (byte)(etherType >> 8), (byte)etherType];

    public static byte[] IPv4(string src, string dst, byte proto, byte[] payload, ushort id = 1, byte ttl = 64,
        byte tos = 0, ushort flagsAndOffset = 0, byte[]? options = null, int? totalLength = null)
    {
        options ??= [];
        int hl = 20 + options.Length;
        var b = new byte[hl + payload.Length];
        b[0] = (byte)(0x40 | hl / 4);
        b[1] = tos;
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(2), (ushort)(totalLength ?? b.Length));
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(4), id);
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(6), flagsAndOffset);
        b[8] = ttl;
        b[9] = proto;
        IPAddress.Parse(src).GetAddressBytes().CopyTo(b, 12);
        IPAddress.Parse(dst).GetAddressBytes().CopyTo(b, 16);
        options.CopyTo(b, 20);
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(10), Checksum(b.AsSpan(0, hl)));
        payload.CopyTo(b, hl);
        return b;
    }

    public static byte[] IPv6(string src, string dst, byte nextHeader, byte[] payload, uint flowLabel = 0, byte hopLimit = 64, byte trafficClass = 0)
    {
        var b = new byte[40 + payload.Length];
        BinaryPrimitives.WriteUInt32BigEndian(b, 0x60000000u | (uint)trafficClass << 20 | flowLabel);
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(4), (ushort)payload.Length);
        b[6] = nextHeader;
        b[7] = hopLimit;
        IPAddress.Parse(src).GetAddressBytes().CopyTo(b, 8);
        IPAddress.Parse(dst).GetAddressBytes().CopyTo(b, 24);
        payload.CopyTo(b, 40);
        return b;
    }

    /// <summary>A TCP segment with its checksum over the pseudo header of <paramref name="src"/> and <paramref name="dst"/>.</summary>
    public static byte[] Tcp(string src, string dst, ushort sport, ushort dport, uint seq, uint ack, byte flags,
        ushort window = 64240, ushort urgent = 0, byte[]? options = null, byte[]? data = null, byte reservedNibble = 0)
    {
        options ??= [];
        data ??= [];
        int hl = 20 + options.Length;
        var t = new byte[hl + data.Length];
        BinaryPrimitives.WriteUInt16BigEndian(t, sport);
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(2), dport);
        BinaryPrimitives.WriteUInt32BigEndian(t.AsSpan(4), seq);
        BinaryPrimitives.WriteUInt32BigEndian(t.AsSpan(8), ack);
        t[12] = (byte)(hl / 4 << 4 | reservedNibble);
        t[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(14), window);
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(18), urgent);
        options.CopyTo(t, 20);
        data.CopyTo(t, hl);
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(16), TransportChecksum(src, dst, 6, t));
        return t;
    }

    public static byte[] Udp(string src, string dst, ushort sport, ushort dport, byte[]? data = null)
    {
        data ??= [];
        var u = new byte[8 + data.Length];
        BinaryPrimitives.WriteUInt16BigEndian(u, sport);
        BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(2), dport);
        BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(4), (ushort)u.Length);
        data.CopyTo(u, 8);
        BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(6), TransportChecksum(src, dst, 17, u));
        return u;
    }

    /// <summary>ICMP (v4, no pseudo header) with the 4 bytes after the checksum and a body.</summary>
    public static byte[] Icmp(byte type, byte code, uint rest = 0, byte[]? body = null)
    {
        body ??= [];
        var m = new byte[8 + body.Length];
        m[0] = type;
        m[1] = code;
        BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(4), rest);
        body.CopyTo(m, 8);
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(2), Checksum(m));
        return m;
    }

    /// <summary>ICMPv6 with its checksum over the IPv6 pseudo header.</summary>
    public static byte[] Icmp6(string src, string dst, byte type, byte code, uint rest = 0, byte[]? body = null)
    {
        body ??= [];
        var m = new byte[8 + body.Length];
        m[0] = type;
        m[1] = code;
        BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(4), rest);
        body.CopyTo(m, 8);
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(2), TransportChecksum(src, dst, 58, m));
        return m;
    }

    public static ushort TransportChecksum(string src, string dst, byte proto, ReadOnlySpan<byte> segment)
    {
        byte[] s = IPAddress.Parse(src).GetAddressBytes(), d = IPAddress.Parse(dst).GetAddressBytes();
        var pseudo = new List<byte>();
        pseudo.AddRange(s);
        pseudo.AddRange(d);
        if (s.Length == 4) pseudo.AddRange([0, proto, (byte)(segment.Length >> 8), (byte)segment.Length]);
        else pseudo.AddRange([(byte)(segment.Length >> 24), (byte)(segment.Length >> 16), (byte)(segment.Length >> 8), (byte)segment.Length, 0, 0, 0, proto]);
        pseudo.AddRange(segment.ToArray());
        // A segment whose checksum field is already set sums to zero; callers pass it zeroed.
        return Checksum(pseudo.ToArray());
    }

    /// <summary>RFC 1071 one's complement checksum.</summary>
    public static ushort Checksum(ReadOnlySpan<byte> data)
    {
        uint sum = 0;
        for (int i = 0; i + 1 < data.Length; i += 2) sum += (uint)(data[i] << 8 | data[i + 1]);
        if ((data.Length & 1) != 0) sum += (uint)data[^1] << 8;
        while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
        return (ushort)~sum;
    }

    /// <summary>The engine's host as the oracle sets it up: fw with eth0 (198.51.100.1/24, 2001:db8:100::1/64) and, in router mode, eth1 (203.0.113.1/24).</summary>
    public static EngineState OracleHost(string eth0Mac, string? eth1Mac = null, TimeProvider? time = null)
    {
        var net = new HostNetwork();
        var eth0 = net.Add("eth0", Mac(eth0Mac));
        eth0.IPv4.Add((0xC6336401, 24));
        eth0.IPv6.Add((Ipv6("2001:db8:100::1"), 64));
        net.DefaultRoute = eth0;
        if (eth1Mac != null)
        {
            var eth1 = net.Add("eth1", Mac(eth1Mac));
            eth1.IPv4.Add((0xCB007101, 24));
            net.Forwarding = true;
        }
        return new EngineState(time ?? new ManualTime(), net);
    }

    public static UInt128 Ipv6(string s) => SharpTables.Packets.PacketParser.ReadUInt128(IPAddress.Parse(s).GetAddressBytes());

    /// <summary>Parses one iptables rule (arguments after <c>-A CHAIN</c>) and compiles its target.</summary>
    public static CompiledTarget CompileTarget(EngineState state, string chain, string[] ruleArgs, Family family = Family.IPv4, string table = "filter")
    {
        var args = new List<string> { "-t", table, "-A", chain };
        args.AddRange(ruleArgs);
        var rule = Assert.Single(new CommandParser(family).Parse(args).Rules);
        var ctx = new CompileContext { State = state, Family = family, Table = table, Chain = chain, Rule = rule };
        return CompilerRegistry.CompileTarget(rule.Target!, ctx);
    }

    /// <summary>Loads a packet that arrived on <paramref name="in"/> with an Ethernet header.</summary>
    public static Packet Arrived(byte[] ip, NetInterface? @in, byte[]? macHeader, Hook hook = Hook.Input, NetInterface? @out = null)
    {
        var p = new Packet();
        Assert.True(p.Load(ip));
        p.Hook = hook;
        p.In = @in;
        p.Out = @out;
        if (macHeader != null) p.SetMacHeader(macHeader);
        return p;
    }
}

/// <summary>Collects what the engine reports.</summary>
internal sealed class RecordingObserver : IEngineObserver
{
    public List<LogRecord> Logs { get; } = [];

    public void OnLog(in LogRecord record) => Logs.Add(record);
}
