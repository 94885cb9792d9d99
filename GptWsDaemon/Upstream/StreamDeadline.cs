using System.Diagnostics;

namespace GptWsDaemon.Upstream;

/// <summary>
/// The two clocks of one upstream stream in one timer: first the first-token deadline, then, once content flows, the
/// longest allowed gap between events. Moving the deadline is one field write (<see cref="Extend"/>, on every event);
/// the timer is re-armed only when it fires before the deadline. (<see cref="CancellationTokenSource.CancelAfter(TimeSpan)"/>
/// on every token took the timer queue's lock on the socket threads, 20,000 times a second at 1,000 streams.)
/// </summary>
public sealed class StreamDeadline : IDisposable
{
    private readonly CancellationTokenSource _cts;
    private readonly Timer _timer;
    private long _deadline; // Stopwatch ticks

    /// <summary>Starts the first clock: <see cref="Token"/> is cancelled after <paramref name="first"/> or when <paramref name="outer"/> is.</summary>
    public StreamDeadline(TimeSpan first, CancellationToken outer)
    {
        _cts = CancellationTokenSource.CreateLinkedTokenSource(outer);
        _deadline = Stopwatch.GetTimestamp() + Ticks(first);
        _timer = new Timer(static state => ((StreamDeadline)state!).Fire(), this, first, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Cancelled when the deadline passes or the outer token is cancelled.</summary>
    public CancellationToken Token => _cts.Token;

    /// <summary>True once the deadline has passed (and not merely the outer token fired).</summary>
    public bool Expired { get; private set; }

    /// <summary>Moves the deadline to <paramref name="span"/> from now (earlier or later).</summary>
    public void Extend(TimeSpan span)
    {
        var deadline = Stopwatch.GetTimestamp() + Ticks(span);
        var previous = Volatile.Read(ref _deadline);
        Volatile.Write(ref _deadline, deadline);
        if (deadline < previous)
        {
            // An earlier deadline than the timer is set for: the timer has to come sooner.
            Arm(span);
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _timer.Dispose();
        _cts.Dispose();
    }

    private static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);

    private void Fire()
    {
        var left = Volatile.Read(ref _deadline) - Stopwatch.GetTimestamp();
        if (left > 0)
        {
            // Events came since the timer was set: sleep until the deadline they moved it to.
            Arm(TimeSpan.FromSeconds((double)left / Stopwatch.Frequency));
            return;
        }

        Expired = true;
        try
        {
            _cts.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The stream ended while the timer fired.
        }
    }

    private void Arm(TimeSpan due)
    {
        try
        {
            _timer.Change(due, Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
