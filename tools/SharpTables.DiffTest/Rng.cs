namespace SharpTables.DiffTest;

/// <summary>
/// Deterministic random numbers (xoshiro256** seeded through SplitMix64). Unlike
/// <see cref="Random"/>, the sequence for a seed is fixed by this code alone, so a seed names the
/// same generated batch on every machine and .NET version.
/// </summary>
public sealed class Rng
{
    private ulong _s0, _s1, _s2, _s3;

    /// <summary>A generator for <paramref name="seed"/>.</summary>
    public Rng(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix(ref x);
        _s1 = SplitMix(ref x);
        _s2 = SplitMix(ref x);
        _s3 = SplitMix(ref x);
    }

    /// <summary>A seed derived from a parent seed and a path of indexes (batch, case, attempt, ...).</summary>
    public static ulong Derive(ulong seed, params ReadOnlySpan<ulong> path)
    {
        ulong x = seed ^ 0x5DEECE66DUL;
        ulong h = SplitMix(ref x);
        foreach (var p in path)
        {
            x = h ^ (p * 0x9E3779B97F4A7C15UL);
            h = SplitMix(ref x);
        }
        return h;
    }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The next 64 random bits.</summary>
    public ulong NextU64()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>A number in [0, <paramref name="n"/>).</summary>
    public int Next(int n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n));
        return (int)(NextU64() % (ulong)n);
    }

    /// <summary>A number in [<paramref name="lo"/>, <paramref name="hi"/>] (both included).</summary>
    public int Range(int lo, int hi) => lo + Next(hi - lo + 1);

    /// <summary>True with probability <paramref name="p"/>.</summary>
    public bool Chance(double p) => (NextU64() >> 11) * (1.0 / (1UL << 53)) < p;

    /// <summary>One element, uniformly.</summary>
    public T Pick<T>(IReadOnlyList<T> items) => items[Next(items.Count)];

    /// <summary>One value, with the given relative weights.</summary>
    public T Weighted<T>(params ReadOnlySpan<(int Weight, T Value)> choices)
    {
        int total = 0;
        foreach (var c in choices) total += c.Weight;
        int r = Next(total);
        foreach (var c in choices)
        {
            if (r < c.Weight) return c.Value;
            r -= c.Weight;
        }
        throw new InvalidOperationException("no choice");
    }

    /// <summary>Shuffles <paramref name="items"/> in place (Fisher-Yates).</summary>
    public void Shuffle<T>(IList<T> items)
    {
        for (int i = items.Count - 1; i > 0; i--)
        {
            int j = Next(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }
}
