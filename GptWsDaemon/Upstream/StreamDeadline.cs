using System.Diagnostics;

namespace GptWsDaemon.Upstream;

/// <summary>
/// The two clocks of one upstream stream: first the first-token deadline, then, once content flows, the longest allowed
/// gap between events. Moving the deadline is one field write (<see cref="Extend"/>, on every event), and no stream owns
/// a timer: one shared <see cref="DeadlineSweep"/> looks at every open deadline a few times a second and cancels those
/// that passed. (<see cref="CancellationTokenSource.CancelAfter(TimeSpan)"/> on every token took the timer queue's lock
/// 20,000 times a second at 1,000 streams; a timer per stream was three more objects kept alive per stream, and two
/// trips through that lock, to time out something measured in seconds.) A deadline fires no earlier than it is due
/// and at most one sweep period later.
/// </summary>
public sealed class StreamDeadline : IDisposable
{
    private static readonly DeadlineSweep Shared = new(TimeSpan.FromMilliseconds(50));

    private readonly CancellationTokenSource _cts;
    private readonly DeadlineSweep _sweep;
    private long _deadline; // Stopwatch ticks
    private volatile bool _expired;

    /// <summary>Starts the first clock: <see cref="Token"/> is cancelled after <paramref name="first"/> or when <paramref name="outer"/> is.</summary>
    public StreamDeadline(TimeSpan first, CancellationToken outer)
        : this(first, Shared, outer)
    {
    }

    internal StreamDeadline(TimeSpan first, DeadlineSweep sweep, CancellationToken outer)
    {
        _cts = CancellationTokenSource.CreateLinkedTokenSource(outer);
        _deadline = Stopwatch.GetTimestamp() + Ticks(first);
        _sweep = sweep;
        sweep.Add(this);
    }

    /// <summary>Cancelled when the deadline passes or the outer token is cancelled.</summary>
    public CancellationToken Token => _cts.Token;

    /// <summary>True once the deadline has passed (and not merely the outer token fired).</summary>
    public bool Expired => _expired;

    /// <summary>Links of the sweep's list; touched only under its lock.</summary>
    internal StreamDeadline? Previous { get; set; }

    /// <inheritdoc cref="Previous"/>
    internal StreamDeadline? Next { get; set; }

    /// <inheritdoc cref="Previous"/>
    internal bool Listed { get; set; }

    /// <summary>Moves the deadline to <paramref name="span"/> from now (earlier or later).</summary>
    public void Extend(TimeSpan span) => Volatile.Write(ref _deadline, Stopwatch.GetTimestamp() + Ticks(span));

    /// <inheritdoc/>
    public void Dispose()
    {
        _sweep.Remove(this);
        _cts.Dispose();
    }

    internal bool IsDue(long now) => Volatile.Read(ref _deadline) <= now;

    /// <summary>Called by the sweep, outside its lock, once the deadline has passed.</summary>
    internal void Expire()
    {
        _expired = true;
        try
        {
            _cts.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The stream ended while the sweep found it due.
        }
    }

    private static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);
}

/// <summary>
/// One timer for every open <see cref="StreamDeadline"/>: every period it walks the list and expires the deadlines that
/// passed. The timer runs only while some deadline is open, and one sweep never overlaps the next.
/// </summary>
internal sealed class DeadlineSweep : IDisposable
{
    private readonly Lock _lock = new();
    private readonly TimeSpan _period;
    private readonly Timer _timer;
    private StreamDeadline? _head;
    private bool _armed;

    public DeadlineSweep(TimeSpan period)
    {
        _period = period;
        _timer = new Timer(static state => ((DeadlineSweep)state!).Tick(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Deadlines on the list now (for tests).</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                var n = 0;
                for (var d = _head; d is not null; d = d.Next)
                {
                    n++;
                }

                return n;
            }
        }
    }

    /// <summary>Stops the timer (the process-wide sweep never is; tests' own sweeps are).</summary>
    public void Dispose() => _timer.Dispose();

    public void Add(StreamDeadline deadline)
    {
        bool arm;
        lock (_lock)
        {
            deadline.Next = _head;
            if (_head is not null)
            {
                _head.Previous = deadline;
            }

            _head = deadline;
            deadline.Listed = true;
            arm = !_armed;
            _armed = true;
        }

        if (arm)
        {
            Arm();
        }
    }

    public void Remove(StreamDeadline deadline)
    {
        lock (_lock)
        {
            Unlink(deadline);
        }
    }

    private void Unlink(StreamDeadline deadline)
    {
        if (!deadline.Listed)
        {
            return;
        }

        if (deadline.Previous is null)
        {
            _head = deadline.Next;
        }
        else
        {
            deadline.Previous.Next = deadline.Next;
        }

        if (deadline.Next is not null)
        {
            deadline.Next.Previous = deadline.Previous;
        }

        deadline.Previous = deadline.Next = null;
        deadline.Listed = false;
    }

    private void Arm()
    {
        try
        {
            _timer.Change(_period, Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private void Tick()
    {
        var now = Stopwatch.GetTimestamp();
        List<StreamDeadline>? due = null; // local: once the lock is released, an Add may start the next sweep
        bool again;
        lock (_lock)
        {
            for (var d = _head; d is not null;)
            {
                var next = d.Next;
                if (d.IsDue(now))
                {
                    Unlink(d);
                    (due ??= []).Add(d);
                }

                d = next;
            }

            again = _armed = _head is not null;
        }

        // Cancelling runs the token's callbacks (HttpClient aborting a request, say): never under the lock.
        foreach (var d in due ?? [])
        {
            d.Expire();
        }

        if (again)
        {
            Arm();
        }
    }
}
