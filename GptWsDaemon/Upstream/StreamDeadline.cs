using System.Diagnostics;

namespace GptWsDaemon.Upstream;

/// <summary>
/// The clocks of one upstream stream: first the first-token deadline, then, once content flows, the longest allowed
/// gap between pieces of content — and, over both, a total cap that no extension moves past. Moving the deadline is
/// one field write (<see cref="Extend"/>, on every event), and no stream owns a timer: one shared
/// <see cref="DeadlineSweep"/> keeps a timer for the earliest open deadline and cancels those that passed, because
/// CancelAfter per token takes the timer queue's lock on every token, to time out something measured in seconds.
/// A deadline fires no earlier than it is due.
/// </summary>
public sealed class StreamDeadline : IDisposable
{
    private static readonly DeadlineSweep Shared = new(TimeSpan.FromMilliseconds(10));

    private readonly CancellationTokenSource _cts;
    private readonly DeadlineSweep _sweep;
    private readonly long _cap; // Stopwatch ticks: no deadline is ever later than this
    private long _deadline; // Stopwatch ticks
    private volatile bool _expired;

    /// <summary>Starts the first clock: <see cref="Token"/> is cancelled after <paramref name="first"/> or when <paramref name="outer"/> is.</summary>
    public StreamDeadline(TimeSpan first, CancellationToken outer)
        : this(first, Timeout.InfiniteTimeSpan, Shared, outer)
    {
    }

    /// <summary>As the other constructor, and the stream ends <paramref name="total"/> from now whatever <see cref="Extend"/> asks.</summary>
    public StreamDeadline(TimeSpan first, TimeSpan total, CancellationToken outer)
        : this(first, total, Shared, outer)
    {
    }

    internal StreamDeadline(TimeSpan first, DeadlineSweep sweep, CancellationToken outer)
        : this(first, Timeout.InfiniteTimeSpan, sweep, outer)
    {
    }

    internal StreamDeadline(TimeSpan first, TimeSpan total, DeadlineSweep sweep, CancellationToken outer)
    {
        _cts = CancellationTokenSource.CreateLinkedTokenSource(outer);
        var now = Stopwatch.GetTimestamp();
        _cap = total == Timeout.InfiniteTimeSpan ? long.MaxValue : now + Ticks(total);
        _deadline = Math.Min(now + Ticks(first), _cap);
        _sweep = sweep;
        sweep.Add(this, _deadline);
    }

    /// <summary>Cancelled when the deadline passes or the outer token is cancelled.</summary>
    public CancellationToken Token => _cts.Token;

    /// <summary>True once the deadline has passed (and not merely the outer token fired).</summary>
    public bool Expired => _expired;

    /// <summary>How long until the deadline passes (zero once it has).</summary>
    public TimeSpan Remaining => TimeSpan.FromSeconds(Math.Max(0, DueAt - Stopwatch.GetTimestamp()) / (double)Stopwatch.Frequency);

    /// <summary>True once the deadline has passed because the total cap did, not a first-token or idle clock.</summary>
    public bool CapReached => _expired && DueAt == _cap;

    /// <summary>Links of the sweep's list; touched only under its lock.</summary>
    internal StreamDeadline? Previous { get; set; }

    /// <inheritdoc cref="Previous"/>
    internal StreamDeadline? Next { get; set; }

    /// <inheritdoc cref="Previous"/>
    internal bool Listed { get; set; }

    /// <summary>Moves the deadline to <paramref name="span"/> from now (earlier or later), never past the total cap.</summary>
    public void Extend(TimeSpan span)
    {
        var now = Stopwatch.GetTimestamp();
        var deadline = Math.Min(now + Ticks(span), _cap);
        Volatile.Write(ref _deadline, deadline);
        if (deadline <= now && !_expired)
        {
            // The cap passed while content kept coming: end it here, not when a starved thread pool runs the sweep.
            _sweep.Remove(this);
            Expire();
        }
        else if (deadline < _sweep.ArmedFor)
        {
            _sweep.Earlier(deadline);
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _sweep.Remove(this);
        _cts.Dispose();
    }

    /// <summary>When the deadline passes (Stopwatch ticks).</summary>
    internal long DueAt => Volatile.Read(ref _deadline);

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
/// One timer for every open <see cref="StreamDeadline"/>, set for the earliest deadline on its list. When it fires it
/// expires the deadlines that passed and sets itself for the earliest of the rest. Deadlines mostly move later (every
/// event pushes its stream's by the idle timeout), so under steady traffic it fires about once per timeout, not per
/// token or per stream; a deadline moved earlier than the timer brings the timer forward. The timer is off while the
/// list is empty, and one sweep never overlaps the next.
/// </summary>
internal sealed class DeadlineSweep : IDisposable
{
    private readonly Lock _lock = new();
    private readonly long _resolution; // Stopwatch ticks: the timer is never set closer than this
    private readonly Timer _timer;
    private StreamDeadline? _head;
    private long _armedFor = long.MaxValue; // Stopwatch ticks; MaxValue: not armed (or a sweep is running and will decide)
    private bool _sweeping;
    private int _sweeps;

    public DeadlineSweep(TimeSpan resolution)
    {
        _resolution = (long)(resolution.TotalSeconds * Stopwatch.Frequency);
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

    /// <summary>Sweeps run so far (for tests).</summary>
    public int Sweeps => Volatile.Read(ref _sweeps);

    /// <summary>When the timer fires next (Stopwatch ticks), long.MaxValue when it is off; read without the lock on every event.</summary>
    public long ArmedFor => Volatile.Read(ref _armedFor);

    /// <summary>Stops the timer (the process-wide sweep never is; tests' own sweeps are).</summary>
    public void Dispose() => _timer.Dispose();

    public void Add(StreamDeadline deadline, long due)
    {
        lock (_lock)
        {
            deadline.Next = _head;
            if (_head is not null)
            {
                _head.Previous = deadline;
            }

            _head = deadline;
            deadline.Listed = true;
            ArmNoLaterThan(due);
        }
    }

    public void Remove(StreamDeadline deadline)
    {
        lock (_lock)
        {
            Unlink(deadline);
        }
    }

    /// <summary>A deadline moved earlier than the timer: bring the timer forward.</summary>
    public void Earlier(long due)
    {
        lock (_lock)
        {
            ArmNoLaterThan(due);
        }
    }

    private void ArmNoLaterThan(long due)
    {
        if (_sweeping || due >= _armedFor)
        {
            return; // the running sweep sets the timer from the whole list when it is done
        }

        Arm(due, Stopwatch.GetTimestamp());
    }

    private void Arm(long due, long now)
    {
        due = Math.Max(due, now + _resolution);
        Volatile.Write(ref _armedFor, due);
        try
        {
            _timer.Change(TimeSpan.FromSeconds((double)(due - now) / Stopwatch.Frequency), Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
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

    private void Tick()
    {
        List<StreamDeadline>? due = null; // local: the next sweep may start before this one has cancelled them all
        Interlocked.Increment(ref _sweeps);
        lock (_lock)
        {
            _sweeping = true;
            Volatile.Write(ref _armedFor, long.MaxValue);
            var now = Stopwatch.GetTimestamp();
            for (var d = _head; d is not null;)
            {
                var next = d.Next;
                if (d.DueAt <= now)
                {
                    Unlink(d);
                    (due ??= []).Add(d);
                }

                d = next;
            }
        }

        // Cancelling runs the token's callbacks (HttpClient aborting a request, say): never under the lock.
        foreach (var d in due ?? [])
        {
            d.Expire();
        }

        lock (_lock)
        {
            _sweeping = false;
            var earliest = long.MaxValue;
            for (var d = _head; d is not null; d = d.Next)
            {
                earliest = Math.Min(earliest, d.DueAt);
            }

            if (earliest != long.MaxValue)
            {
                Arm(earliest, Stopwatch.GetTimestamp());
            }
        }
    }
}
