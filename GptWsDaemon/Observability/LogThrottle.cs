using System.Diagnostics;

namespace GptWsDaemon.Observability;

/// <summary>
/// Lets the first <c>burst</c> lines of a kind through, then at most one summary line per interval saying how many were
/// suppressed, so a client repeating a refused request cannot flood the log (and rotate the archives away).
/// </summary>
public sealed class LogThrottle
{
    private readonly int _burst;
    private readonly long _interval;
    private readonly Action<long>? _onSuppressed;
    private readonly Func<long> _clock; // Stopwatch ticks
    private readonly Lock _lock = new();
    private int _written;
    private long _suppressed;
    private long _summaryDue;

    /// <summary>Creates a throttle; <paramref name="onSuppressed"/> counts each suppressed line (the metric).</summary>
    /// <param name="clock">Stopwatch ticks now (tests pass their own).</param>
    public LogThrottle(int burst, TimeSpan interval, Action<long>? onSuppressed = null, Func<long>? clock = null)
    {
        _clock = clock ?? Stopwatch.GetTimestamp;
        _burst = burst;
        _interval = (long)(interval.TotalSeconds * Stopwatch.Frequency);
        _onSuppressed = onSuppressed;
    }

    /// <summary>
    /// True when this line may be written. When it may not, false; <paramref name="summary"/> is then, once per
    /// interval, the number of lines suppressed since the last summary (write one line saying so), otherwise 0.
    /// </summary>
    public bool TryWrite(out long summary)
    {
        summary = 0;
        lock (_lock)
        {
            if (_written < _burst)
            {
                _written++;
                return true;
            }

            _suppressed++;
            var now = _clock();
            if (_summaryDue == 0)
            {
                _summaryDue = now + _interval;
            }
            else if (now >= _summaryDue)
            {
                summary = _suppressed;
                _suppressed = 0;
                _summaryDue = now + _interval;
            }
        }

        _onSuppressed?.Invoke(1);
        return false;
    }

    /// <summary>Lines suppressed since the last summary (to report when the connection closes).</summary>
    public long Pending
    {
        get
        {
            lock (_lock)
            {
                return _suppressed;
            }
        }
    }
}
