using System.Buffers.Binary;
using SharpTables.Rules.Commands;
using SharpTables.Rules.Model;

namespace SharpTables.Engine.Tests.Walker;

/// <summary>A fw host like the oracle's (eth0 198.51.100.1/24, eth1 203.0.113.1/24) and a tiny IPv4 packet writer.</summary>
internal static class WalkerTestKit
{
    public static (NetfilterEngine Engine, HostNetwork Net) Load(string rules, bool forwarding = false)
    {
        var net = new HostNetwork { Forwarding = forwarding };
        var eth0 = net.Add("eth0", [2, 0, 0, 0, 0, 1]);
        eth0.IPv4.Add((0xC6336401, 24)); // 198.51.100.1/24
        var eth1 = net.Add("eth1", [2, 0, 0, 0, 1, 1]);
        eth1.IPv4.Add((0xCB007101, 24)); // 203.0.113.1/24
        net.DefaultRoute = eth0;
        var state = new EngineState(new ManualTime(), net);
        var ruleset = Restore.Apply(new Ruleset(), rules, new RestoreOptions());
        return (new NetfilterEngine(state, CompiledRuleset.Compile(state, ruleset)), net);
    }

    public static uint Ip(string dotted)
    {
        var b = dotted.Split('.').Select(byte.Parse).ToArray();
        return (uint)(b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]);
    }

    /// <summary>IPv4 + UDP (proto 17) or TCP (proto 6, flags) with a valid IP header checksum.</summary>
    public static byte[] V4(string src, string dst, byte proto, ushort sport = 40000, ushort dport = 80, byte tcpFlags = 0x02, byte ttl = 64, ushort fragField = 0, int payload = 0)
    {
        int l4 = proto == 6 ? 20 : proto == 17 ? 8 : 8;
        var b = new byte[20 + l4 + payload];
        b[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(2), (ushort)b.Length);
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(4), 0xB001);
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(6), fragField);
        b[8] = ttl;
        b[9] = proto;
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(12), Ip(src));
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(16), Ip(dst));
        ushort c = SharpTables.Packets.Checksum.Compute(b.AsSpan(0, 20));
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(10), c);
        var t = b.AsSpan(20);
        if (proto is 6 or 17)
        {
            BinaryPrimitives.WriteUInt16BigEndian(t, sport);
            BinaryPrimitives.WriteUInt16BigEndian(t[2..], dport);
        }
        if (proto == 6)
        {
            t[12] = 0x50;
            t[13] = tcpFlags;
            BinaryPrimitives.WriteUInt16BigEndian(t[14..], 64240);
        }
        else if (proto == 17) BinaryPrimitives.WriteUInt16BigEndian(t[4..], (ushort)(8 + payload));
        else if (proto == 1) t[0] = 8;
        return b;
    }
}
