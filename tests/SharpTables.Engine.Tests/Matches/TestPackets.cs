using System.Buffers.Binary;
using System.Net;
using SharpTables.Packets;
using SharpTables.Rules.Model;
using SharpTables.Rules.Parsing;

namespace SharpTables.Engine.Tests.Matches;

/// <summary>
/// A tiny IPv4/IPv6 packet writer for match and target tests, driven by a one-line description:
/// <c>"tcp sport=1000 dport=22 flags=SA"</c>. Keys: proto (first word: tcp, udp, icmp, icmpv6 or a
/// number), v6, src, dst, sport, dport, flags (letters FSRPAUEC or NONE), opts (TCP options in
/// hex), doff (override), type, code, ttl, tos, frag (offset in 8-byte units), mf, payload (bytes
/// of zero payload), l4 (cut the transport part to this many bytes; the IP length follows) and
/// trail (bytes of padding after the IP datagram). Checksums are computed in full.
/// </summary>
internal static class Pkt
{
    public static byte[] Build(string spec)
    {
        var words = spec.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var kv = new Dictionary<string, string>();
        foreach (var w in words.Skip(1))
        {
            int eq = w.IndexOf('=');
            kv[eq < 0 ? w : w[..eq]] = eq < 0 ? "" : w[(eq + 1)..];
        }
        string Get(string k, string d) => kv.TryGetValue(k, out var v) ? v : d;
        bool v6 = kv.ContainsKey("v6");
        byte proto = words[0] switch
        {
            "tcp" => 6, "udp" => 17, "icmp" => 1, "icmpv6" => 58, var n => byte.Parse(n),
        };
        int payload = int.Parse(Get("payload", "0"));
        byte[] l4 = proto switch
        {
            6 => Tcp(ushort.Parse(Get("sport", "40000")), ushort.Parse(Get("dport", "80")), Flags(Get("flags", "S")),
                Convert.FromHexString(Get("opts", "")), kv.ContainsKey("doff") ? int.Parse(kv["doff"]) : null, payload),
            17 => Udp(ushort.Parse(Get("sport", "40000")), ushort.Parse(Get("dport", "53")), payload),
            1 or 58 => Icmp(byte.Parse(Get("type", proto == 1 ? "8" : "128")), byte.Parse(Get("code", "0")), payload),
            _ => new byte[payload],
        };
        if (kv.TryGetValue("l4", out var cut)) l4 = l4[..int.Parse(cut)];
        var src = IPAddress.Parse(Get("src", v6 ? "2001:db8:100::2" : "198.51.100.2")).GetAddressBytes();
        var dst = IPAddress.Parse(Get("dst", v6 ? "2001:db8:100::1" : "198.51.100.1")).GetAddressBytes();
        byte ttl = byte.Parse(Get("ttl", "64")), tos = Convert.ToByte(Get("tos", "0"), 16);
        ushort frag = ushort.Parse(Get("frag", "0"));
        bool mf = kv.ContainsKey("mf");
        byte[] packet = v6 ? Ipv6(src, dst, proto, ttl, tos, frag, mf, l4) : Ipv4(src, dst, proto, ttl, tos, frag, mf, l4);
        // transport checksums cover the whole (unfragmented) segment
        if (frag == 0 && !mf && (proto is 6 or 17 or 58) && !kv.ContainsKey("l4"))
            FixTransportChecksum(packet);
        int trail = int.Parse(Get("trail", "0"));
        return trail == 0 ? packet : [.. packet, .. new byte[trail]];
    }

    public static byte Flags(string s)
    {
        if (s is "NONE" or "") return 0;
        byte f = 0;
        foreach (char c in s) f |= (byte)(1 << "FSRPAUEC".IndexOf(c));
        return f;
    }

    private static byte[] Tcp(ushort sport, ushort dport, byte flags, byte[] options, int? doff, int payload)
    {
        int hl = 20 + options.Length;
        var t = new byte[hl + payload];
        BinaryPrimitives.WriteUInt16BigEndian(t, sport);
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(2), dport);
        BinaryPrimitives.WriteUInt32BigEndian(t.AsSpan(4), 1000);
        t[12] = (byte)((doff ?? hl / 4) << 4);
        t[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(14), 64240);
        options.CopyTo(t, 20);
        return t;
    }

    private static byte[] Udp(ushort sport, ushort dport, int payload)
    {
        var u = new byte[8 + payload];
        BinaryPrimitives.WriteUInt16BigEndian(u, sport);
        BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(2), dport);
        BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(4), (ushort)u.Length);
        return u;
    }

    private static byte[] Icmp(byte type, byte code, int payload)
    {
        var i = new byte[8 + payload];
        i[0] = type;
        i[1] = code;
        return i;
    }

    private static byte[] Ipv4(byte[] src, byte[] dst, byte proto, byte ttl, byte tos, ushort frag, bool mf, byte[] l4)
    {
        var p = new byte[20 + l4.Length];
        p[0] = 0x45;
        p[1] = tos;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)p.Length);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(4), 0xB000);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(6), (ushort)(frag | (mf ? 0x2000 : 0)));
        p[8] = ttl;
        p[9] = proto;
        src.CopyTo(p, 12);
        dst.CopyTo(p, 16);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(10), Checksum(p.AsSpan(0, 20), 0));
        l4.CopyTo(p, 20);
        return p;
    }

    private static byte[] Ipv6(byte[] src, byte[] dst, byte proto, byte hops, byte tc, ushort frag, bool mf, byte[] l4)
    {
        bool fragmented = frag != 0 || mf;
        int ext = fragmented ? 8 : 0;
        var p = new byte[40 + ext + l4.Length];
        BinaryPrimitives.WriteUInt32BigEndian(p, 0x60000000u | ((uint)tc << 20) | 0xB000);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(4), (ushort)(ext + l4.Length));
        p[6] = fragmented ? (byte)44 : proto;
        p[7] = hops;
        src.CopyTo(p, 8);
        dst.CopyTo(p, 24);
        if (fragmented)
        {
            p[40] = proto;
            BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(42), (ushort)((frag << 3) | (mf ? 1 : 0)));
            BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(44), 0xB000);
        }
        l4.CopyTo(p, 40 + ext);
        return p;
    }

    /// <summary>Recomputes the TCP/UDP/ICMPv6 checksum of an unfragmented packet from scratch.</summary>
    public static void FixTransportChecksum(byte[] p)
    {
        PacketParser.Parse(p, out var info);
        int off = info.TransportOffset, len = info.TotalLength - off;
        int field = info.Protocol switch { 6 => 16, 17 => 6, _ => 2 };
        p[off + field] = p[off + field + 1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(off + field), TransportChecksum(p));
    }

    /// <summary>The transport checksum the packet should carry (pseudo-header included).</summary>
    public static ushort TransportChecksum(byte[] p)
    {
        PacketParser.Parse(p, out var info);
        int off = info.TransportOffset, len = info.TotalLength - off;
        int field = info.Protocol switch { 6 => 16, 17 => 6, _ => 2 };
        var copy = p.AsSpan(off, len).ToArray();
        copy[field] = copy[field + 1] = 0;
        uint pseudo = 0;
        var addrs = info.IsIPv6 ? p.AsSpan(8, 32) : p.AsSpan(12, 8);
        for (int i = 0; i < addrs.Length; i += 2) pseudo += BinaryPrimitives.ReadUInt16BigEndian(addrs[i..]);
        pseudo += info.Protocol + (uint)len;
        return Checksum(copy, pseudo);
    }

    /// <summary>Whether the IPv4 header checksum verifies.</summary>
    public static bool Ipv4ChecksumOk(ReadOnlySpan<byte> p) => Checksum(p[..((p[0] & 0xf) * 4)], 0) == 0;

    private static ushort Checksum(ReadOnlySpan<byte> data, uint sum)
    {
        for (int i = 0; i + 1 < data.Length; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        if ((data.Length & 1) != 0) sum += (uint)data[^1] << 8;
        while ((sum >> 16) != 0) sum = (sum & 0xffff) + (sum >> 16);
        return (ushort)~sum;
    }
}

/// <summary>What a rule's matches did with a packet.</summary>
public enum Outcome { NoMatch, Match, HotDrop }

/// <summary>Parses a rule with the Rules project and compiles its matches and target with the engine's compilers.</summary>
internal static class RuleUnderTest
{
    public static Rule Parse(string rule, string table = "filter", string chain = "INPUT", Family family = Family.IPv4)
    {
        var args = new List<string> { "-t", table, "-A", chain };
        args.AddRange(Split(rule));
        return Assert.Single(new CommandParser(family).Parse(args).Rules);
    }

    public static CompileContext Context(Rule rule, EngineState state, string table = "filter", string chain = "INPUT") => new()
    {
        State = state, Family = rule.Header.Family, Table = table, Chain = chain, Rule = rule,
    };

    /// <summary>Compiles every match of the rule (the header -p/-s/-d is not evaluated: tests give fitting packets).</summary>
    public static Func<Packet, Outcome> Matches(string rule, EngineState? state = null, string table = "filter",
        string chain = "INPUT", Family family = Family.IPv4)
    {
        var r = Parse(rule, table, chain, family);
        var ctx = Context(r, state ?? new EngineState(new ManualTime()), table, chain);
        var compiled = r.Matches.Select(m => CompilerRegistry.CompileMatch(m, ctx)).ToArray();
        return p =>
        {
            foreach (var m in compiled)
            {
                bool hotdrop = false;
                bool hit = m.Matches(p, ref hotdrop);
                if (hotdrop) return Outcome.HotDrop;
                if (!hit) return Outcome.NoMatch;
            }
            return Outcome.Match;
        };
    }

    /// <summary>Compiles the rule's target.</summary>
    public static Func<Packet, TargetVerdict> Target(string rule, EngineState? state = null, string table = "mangle",
        string chain = "FORWARD", Family family = Family.IPv4)
    {
        var r = Parse(rule, table, chain, family);
        var st = state ?? new EngineState(new ManualTime());
        var compiled = CompilerRegistry.CompileTarget(r.Target!, Context(r, st, table, chain));
        return p => compiled.Execute(p, new TargetContext(st, table, chain, 1));
    }

    /// <summary>A packet loaded from a <see cref="Pkt"/> description.</summary>
    public static Packet Load(string spec, Hook hook = Hook.Input)
    {
        var p = new Packet();
        Assert.True(p.Load(Pkt.Build(spec)));
        p.Hook = hook;
        return p;
    }

    private static IEnumerable<string> Split(string s)
    {
        var parts = s.Split('\'');
        for (int i = 0; i < parts.Length; i++)
        {
            if (i % 2 == 1) yield return parts[i];
            else foreach (var w in parts[i].Split(' ', StringSplitOptions.RemoveEmptyEntries)) yield return w;
        }
    }
}
