using System.Diagnostics;

namespace SharpTables.Cli;

/// <summary>
/// A one-line progress bar on stderr for long runs: it appears only when stderr is a terminal
/// and the work has taken longer than half a second, redraws at most ten times a second, and
/// erases itself when done. SHARPTABLES_PROGRESS=always|never overrides the terminal check.
/// </summary>
internal sealed class ProgressBar : IDisposable
{
    private readonly TextWriter _err;
    private readonly long _total;
    private readonly string _what;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly bool _enabled;
    private long _lastDraw = -1;
    private bool _drawn;
    private long _calls = 255;

    public ProgressBar(TextWriter err, long total, string what)
    {
        _err = err;
        _total = total;
        _what = what;
        _enabled = Environment.GetEnvironmentVariable("SHARPTABLES_PROGRESS") switch
        {
            "always" => true,
            "never" => false,
            _ => !Console.IsErrorRedirected,
        };
    }

    /// <summary>Reports <paramref name="done"/> units finished; cheap enough to call per packet.</summary>
    public void Report(long done)
    {
        if (!_enabled || (++_calls & 255) != 0 && done < _total) return;
        long ms = _clock.ElapsedMilliseconds;
        if (ms < 500 || ms - _lastDraw < 100) return;
        _lastDraw = ms;
        double rate = done / Math.Max(0.001, ms / 1000.0);
        string text;
        if (_total > 0)
        {
            double f = Math.Min(1, (double)done / _total);
            int width = 30, full = (int)(f * width);
            string eta = rate > 0 ? TimeSpan.FromSeconds((_total - done) / rate).ToString(@"m\:ss") : "?";
            text = $"[{new string('#', full)}{new string('.', width - full)}] {f * 100,5:0.0}% {done:N0}/{_total:N0} {_what} {rate:N0}/s eta {eta}";
        }
        else text = $"{done:N0} {_what} {rate:N0}/s";
        _err.Write("\r" + text + "\u001b[K");
        _err.Flush();
        _drawn = true;
    }

    public void Dispose()
    {
        if (_drawn) _err.Write("\r\u001b[K");
    }
}
