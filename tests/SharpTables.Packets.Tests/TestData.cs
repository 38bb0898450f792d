using System.Net;

namespace SharpTables.Packets.Tests;

/// <summary>Fixture files (copied next to the test assembly) and address helpers.</summary>
internal static class TestData
{
    public static string Path(string name) => System.IO.Path.Combine(AppContext.BaseDirectory, "Fixtures", name);

    private static readonly Lazy<Dictionary<string, byte[]>> Scapy = new(() =>
        File.ReadLines(Path("scapy-packets.txt"))
            .Where(l => l.Length > 0 && l[0] != '#')
            .Select(l => l.Split(' '))
            .ToDictionary(p => p[0], p => Convert.FromHexString(p[1])));

    /// <summary>The bytes scapy built for the case <paramref name="name"/> (see Fixtures/scapy_packets.py).</summary>
    public static byte[] ScapyPacket(string name) => Scapy.Value[name];

    public static IEnumerable<string> ScapyNames => Scapy.Value.Keys;

    /// <summary>An address as the packet layer holds it (IPv4 in the low 32 bits, host order).</summary>
    public static UInt128 Addr(string text)
    {
        var bytes = IPAddress.Parse(text).GetAddressBytes();
        return bytes.Length == 4 ? System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(bytes) : PacketParser.ReadUInt128(bytes);
    }

    public const string C = "198.51.100.2", S = "198.51.100.1", C6 = "2001:db8:100::2", S6 = "2001:db8:100::1";

    public static PacketBuilder V4(ushort id) => new() { Source = Addr(C), Destination = Addr(S), Id = id };
    public static PacketBuilder V6() => new() { Ipv6 = true, Source = Addr(C6), Destination = Addr(S6) };
}
