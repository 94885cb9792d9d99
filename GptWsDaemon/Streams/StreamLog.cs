using GptWsDaemon.Protocol;
using GptWsDaemon.Server;

namespace GptWsDaemon.Streams;

/// <summary>
/// A stream that outlives its connection (protocol.md §4.5): its session writes here, not to a connection; every frame
/// gets its <c>n</c> and goes into the log, then to whoever reads the stream now. Nobody reading: the upstream goes on
/// for resume.hold_seconds, then is aborted. Ended: the log stays readable for resume.keep_seconds.
/// </summary>
public sealed class StreamLog : IStreamHost, IResumeSource
{
    private readonly StreamRegistry _registry;
    private readonly int _seqLength;
    private readonly Action _giveSlot;
    private readonly Lock _lock = new();
    private readonly LogBuffer _frames; // n = _firstN + index
    private bool _disposed;
    private long _firstN = 1;
    private long _bytes;
    private long _n;
    private bool _finalNext;
    private bool _finalWritten;
    private bool _ended;
    private StreamSubscription? _reader;
    private ITimer? _hold;
    private StreamSession? _session;

    internal StreamLog(StreamRegistry registry, string id, string? owner, long originId, int seqLength, Action giveSlot, IStreamLogWriter? remote)
    {
        _registry = registry;
        StreamId = id;
        Owner = owner;
        Id = originId;
        _seqLength = seqLength;
        _giveSlot = giveSlot;
        Remote = remote;
        _frames = new LogBuffer(registry.Chunks);
    }

    /// <summary>The id a client resumes it by.</summary>
    public string StreamId { get; }

    /// <summary>The access-token name that may resume it; null when the daemon has no tokens.</summary>
    public string? Owner { get; }

    /// <summary>The connection that started it, for log lines.</summary>
    public long Id { get; }

    /// <summary>The log's copy in Redis, or null.</summary>
    internal IStreamLogWriter? Remote { get; }

    /// <summary>True once the session ended (its final frame is the log's last).</summary>
    public bool Ended
    {
        get
        {
            lock (_lock)
            {
                return _ended;
            }
        }
    }

    /// <summary>Starts <paramref name="session"/> (which writes here) with <paramref name="first"/> as its reader.</summary>
    internal void Start(StreamSession session, StreamSubscription first)
    {
        _session = session;
        first.Source = this;
        _reader = first;
        session.Completion = session.RunAsync();
    }

    /// <summary>
    /// Makes <paramref name="subscription"/> the reader: every frame after <paramref name="after"/> is replayed, then it
    /// follows live. A reader it replaces gets a final frame saying so. The refusal (1008) when it cannot: frames it
    /// needs were dropped from the log (its byte cap), or there is nothing after <paramref name="after"/> to send.
    /// </summary>
    public string? Attach(StreamSubscription subscription, long after)
    {
        StreamSubscription? previous;
        lock (_lock)
        {
            if (_disposed)
            {
                return StreamRegistry.NotFound; // forgotten between the lookup and now
            }

            if (after + 1 < _firstN)
            {
                return $"stream {StreamId}: frames after n={after} are no longer kept (resume.max_log_bytes)";
            }

            if (after > _n || (_ended && after >= _n))
            {
                return $"stream {StreamId}: no frame after n={after} (its last is n={_n}{(_ended ? ", the final one" : string.Empty)})";
            }

            previous = _reader;
            _reader = subscription;
            subscription.Source = this;
            subscription.StartAfter(after);
            _hold?.Dispose();
            _hold = null;
            var n = _firstN;
            foreach (var bytes in _frames.Frames())
            {
                if (n > after)
                {
                    subscription.Deliver(new LogFrame(bytes, n, final: _finalWritten && n == _n), replay: true);
                }

                n++;
            }
        }

        if (previous is not null && previous != subscription)
        {
            previous.EndWith(StreamRegistry.Superseded(previous));
        }

        return null;
    }

    /// <inheritdoc/>
    public void Detach(StreamSubscription subscription)
    {
        lock (_lock)
        {
            if (_reader != subscription)
            {
                return;
            }

            _reader = null;
            HoldLocked();
        }
    }

    private void HoldLocked()
    {
        if (!_ended && _hold is null)
        {
            _hold = _registry.Time.CreateTimer(static s => ((StreamLog)s!).HoldOver(), this, _registry.Settings.Hold, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>A later resumer on another instance took over: the reader here (if it is not that one) ends.</summary>
    internal void TakenOver(string token)
    {
        StreamSubscription? reader;
        lock (_lock)
        {
            reader = _reader;
            if (reader is null || reader.Token == token)
            {
                return;
            }

            _reader = null;
            HoldLocked(); // the new reader is on another instance: its lease keeps the hold from running out
        }

        reader.EndWith(StreamRegistry.Superseded(reader));
    }

    /// <inheritdoc/>
    public void Cancel(StreamEndReason reason) => _session?.Cancel(reason);

    /// <inheritdoc/>
    void IStreamHost.Send(OutgoingFrame frame)
    {
        bool overTotal;
        lock (_lock)
        {
            var n = ++_n;
            var entry = LogFrame.Stamp(frame, _seqLength, n, n == 1 ? StreamId : null, _finalNext, _frames);
            overTotal = Append(entry);
            _finalWritten |= entry.Final;
            Remote?.Append(entry);
            var reader = _reader;
            if (entry.Final)
            {
                _reader = null;
            }

            reader?.Deliver(entry, replay: false);
        }

        if (overTotal)
        {
            _registry.EvictEnded(); // outside this log's lock: it takes the others'
        }
    }

    /// <inheritdoc/>
    void IStreamHost.Release(StreamSession session)
    {
        lock (_lock)
        {
            _finalNext = true; // the session sends its final frame next
        }
    }

    /// <inheritdoc/>
    void IStreamHost.Finished(StreamSession session)
    {
        StreamSubscription? reader;
        lock (_lock)
        {
            _ended = true;
            _hold?.Dispose();
            _hold = null;
            reader = _reader;
            _reader = null;
        }

        reader?.End(); // only when no final frame went out (none should be missing)
        _giveSlot();
        session.Dispose();
        Remote?.Complete(expired: session.EndReason == StreamEndReason.HoldExpired);
        _registry.Ended(this, expired: session.EndReason == StreamEndReason.HoldExpired);
    }

    /// <summary>The registry forgot it: its chunks go back to the pool.</summary>
    internal long Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _frames.Clear();
            var bytes = _bytes;
            _bytes = 0;
            return bytes;
        }
    }

    /// <summary>Adds a frame, dropping this log's oldest past its caps; true when every log together is still over resume.max_total_bytes.</summary>
    private bool Append(LogFrame entry)
    {
        _bytes += entry.Bytes.Length;
        var total = _registry.AddBytes(entry.Bytes.Length);
        while (_frames.Count > 1 && (_bytes > _registry.Settings.MaxLogBytes || total > _registry.Settings.MaxTotalBytes))
        {
            // The oldest frames go first: a resume from before them gets 1008 (protocol.md §4.5). The total is read
            // afresh after each drop: other logs append at the same time, and a stale one would leave them over.
            var length = _frames.OldestLength;
            _frames.DropOldest();
            _firstN++;
            _bytes -= length;
            total = _registry.AddBytes(-length);
        }

        return total > _registry.Settings.MaxTotalBytes;
    }

    private async void HoldOver()
    {
        try
        {
            lock (_lock)
            {
                if (_reader is not null || _ended || _hold is null)
                {
                    return;
                }
            }

            if (Remote is not null && await Remote.ReadElsewhereAsync().ConfigureAwait(false))
            {
                lock (_lock)
                {
                    if (_reader is null && !_ended)
                    {
                        _hold?.Change(_registry.Settings.Hold, Timeout.InfiniteTimeSpan); // a reader on another instance follows it
                    }
                }

                return;
            }

            _registry.CountExpired();
            Cancel(StreamEndReason.HoldExpired);
        }
        catch (Exception e)
        {
            StreamRegistry.Log.Error(e, "stream {0}: hold check failed", StreamId);
        }
    }
}
