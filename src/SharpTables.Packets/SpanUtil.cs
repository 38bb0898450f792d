namespace SharpTables.Packets;

/// <summary>Slicing that never throws: the views clamp their variable-length parts to the bytes present.</summary>
internal static class SpanUtil
{
    /// <summary><paramref name="b"/>[from..to], with both ends clamped to the span; empty when nothing is left.</summary>
    public static ReadOnlySpan<byte> Clamp(ReadOnlySpan<byte> b, int from, int to)
    {
        to = Math.Min(to, b.Length);
        return from >= 0 && from < to ? b[from..to] : [];
    }
}
