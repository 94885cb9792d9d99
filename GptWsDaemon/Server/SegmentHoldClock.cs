using System.Diagnostics;

namespace GptWsDaemon.Server;

/// <summary>
/// How long sentence mode held each piece: from the arrival of its first character (the delta that brought it) to its
/// release — the aggregation delay a speech engine waits (<c>gptws_segment_hold_seconds</c>).
/// </summary>
internal sealed class SegmentHoldClock
{
    private readonly Queue<(long End, long At)> _arrivals = new();
    private long _appended;
    private long _released;

    /// <summary>A delta of <paramref name="chars"/> characters went into the segmenter now.</summary>
    public void Appended(int chars)
    {
        _appended += chars;
        _arrivals.Enqueue((_appended, Stopwatch.GetTimestamp()));
    }

    /// <summary>A piece of <paramref name="chars"/> characters came out now; returns how long its first character waited.</summary>
    public TimeSpan Released(int chars)
    {
        while (_arrivals.Count > 0 && _arrivals.Peek().End <= _released)
        {
            _arrivals.Dequeue();
        }

        var since = _arrivals.Count > 0 ? _arrivals.Peek().At : Stopwatch.GetTimestamp();
        _released += chars;
        return Stopwatch.GetElapsedTime(since);
    }
}
