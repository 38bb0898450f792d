using System.Buffers.Binary;

namespace SharpTables.Packets;

/// <summary>
/// One TCP option for <see cref="PacketBuilder.TcpOptionList"/>: a kind and its value bytes,
/// encoded as scapy's <c>TCPOptionsField</c> encodes <c>(name, value)</c> pairs. EOL and NOP are
/// single bytes; every other option is kind, length (2 + value length), value.
/// </summary>
public readonly struct TcpOptionSpec
{
    private readonly byte[]? _value;

    /// <summary>An option of any kind with the given value bytes (copied).</summary>
    public TcpOptionSpec(byte kind, ReadOnlySpan<byte> value)
    {
        Kind = kind;
        _value = value.ToArray();
    }

    /// <summary>The option kind.</summary>
    public byte Kind { get; }
    /// <summary>The value bytes after kind and length.</summary>
    public ReadOnlySpan<byte> Value => _value;
    /// <summary>Bytes this option takes in the header.</summary>
    public int EncodedLength => Kind is TcpOptionKind.EndOfList or TcpOptionKind.Nop ? 1 : 2 + Value.Length;

    /// <summary>End of option list (one zero byte).</summary>
    public static TcpOptionSpec Eol => new(TcpOptionKind.EndOfList, []);
    /// <summary>No-operation (one byte).</summary>
    public static TcpOptionSpec Nop => new(TcpOptionKind.Nop, []);
    /// <summary>SACK permitted (kind 4, length 2).</summary>
    public static TcpOptionSpec SackPermitted => new(TcpOptionKind.SackPermitted, []);
    /// <summary>Maximum segment size (kind 2).</summary>
    public static TcpOptionSpec Mss(ushort mss) => new(TcpOptionKind.Mss, [(byte)(mss >> 8), (byte)mss]);
    /// <summary>Window scale shift count (kind 3).</summary>
    public static TcpOptionSpec WindowScale(byte shift) => new(TcpOptionKind.WindowScale, [shift]);

    /// <summary>Timestamps: TSval, TSecr.</summary>
    public static TcpOptionSpec Timestamp(uint value, uint echo) => Words(TcpOptionKind.Timestamp, [value, echo]);

    /// <summary>SACK blocks given as left, right, left, right, ...</summary>
    public static TcpOptionSpec Sack(params uint[] edges) => Words(TcpOptionKind.Sack, edges);

    /// <summary>
    /// An option in scapy's notation: <paramref name="name"/> is one of scapy's option names
    /// (EOL, NOP, MSS, WScale, SAckOK, SAck, Timestamp, AltChkSum, AltChkSumOpt, UTO, TFO) or a
    /// decimal kind number, and <paramref name="values"/> the numbers of its value (none for
    /// EOL/NOP/SAckOK; MSS 1460 → [1460]; Timestamp (a, b) → [a, b]; SAck edges; a numeric
    /// kind takes its value as bytes).
    /// </summary>
    /// <exception cref="ArgumentException">An unknown name, or the wrong number of values.</exception>
    public static TcpOptionSpec FromScapy(string name, ReadOnlySpan<uint> values)
    {
        int count = name switch
        {
            "EOL" or "NOP" or "SAckOK" or "AltChkSumOpt" => 0,
            "MSS" or "UTO" or "WScale" => 1,
            "AltChkSum" or "Timestamp" or "TFO" => 2,
            _ => -1,
        };
        if (count >= 0 && values.Length != count)
            throw new ArgumentException($"TCP option {name} takes {count} value(s), got {values.Length}", nameof(values));
        switch (name)
        {
            case "EOL": return Eol;
            case "NOP": return Nop;
            case "SAckOK": return SackPermitted;
            case "AltChkSumOpt": return new TcpOptionSpec(15, []);
            case "MSS": return Mss((ushort)values[0]);
            case "UTO": return new TcpOptionSpec(28, [(byte)(values[0] >> 8), (byte)values[0]]);
            case "WScale": return WindowScale((byte)values[0]);
            case "AltChkSum": return new TcpOptionSpec(14, [(byte)values[0], (byte)(values[1] >> 8), (byte)values[1]]);
            case "Timestamp": return Timestamp(values[0], values[1]);
            case "TFO": return Words(34, values);
            case "SAck": return Words(TcpOptionKind.Sack, values);
        }
        if (!byte.TryParse(name, out byte kind)) throw new ArgumentException($"unknown TCP option name '{name}'", nameof(name));
        var bytes = new byte[values.Length];
        for (int i = 0; i < bytes.Length; i++) bytes[i] = (byte)values[i];
        return new TcpOptionSpec(kind, bytes);
    }

    /// <summary>Total encoded length of <paramref name="options"/> (before padding).</summary>
    public static int Length(ReadOnlySpan<TcpOptionSpec> options)
    {
        int n = 0;
        foreach (var o in options) n += o.EncodedLength;
        return n;
    }

    /// <summary>Encodes <paramref name="options"/> into <paramref name="destination"/>; returns the bytes written.</summary>
    public static int Write(Span<byte> destination, ReadOnlySpan<TcpOptionSpec> options)
    {
        int at = 0;
        foreach (var o in options)
        {
            destination[at] = o.Kind;
            if (o.EncodedLength > 1)
            {
                destination[at + 1] = (byte)o.EncodedLength;
                o.Value.CopyTo(destination[(at + 2)..]);
            }
            at += o.EncodedLength;
        }
        return at;
    }

    private static TcpOptionSpec Words(byte kind, ReadOnlySpan<uint> words)
    {
        var b = new byte[words.Length * 4];
        for (int i = 0; i < words.Length; i++) BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(i * 4), words[i]);
        return new TcpOptionSpec(kind, b);
    }
}
