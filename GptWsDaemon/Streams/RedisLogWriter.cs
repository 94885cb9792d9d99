using GptWsDaemon.Observability;
using StackExchange.Redis;

namespace GptWsDaemon.Streams;

/// <summary>
/// Copies one stream's log into Redis. Frames queue while a write is in flight and go out together in the next one
/// (one batch, one round trip), so a fast stream costs Redis a write per burst, not per token, and an idle one adds no
/// delay to its first frame.
/// </summary>
internal sealed class RedisLogWriter : IStreamLogWriter
{
    private readonly IDatabase _db;
    private readonly string _id;
    private readonly RedisStreamStore _store;
    private readonly DaemonMetrics _metrics;
    private readonly Lock _lock = new();
    private List<LogFrame> _pending = [];
    private List<LogFrame> _spare = [];
    private bool _writing;
    private bool? _completed; // null: running; false: ended; true: expired
    private bool _completionWritten;
    private bool _ttlSet;
    private Task _flush = Task.CompletedTask;

    public RedisLogWriter(IDatabase db, string id, RedisStreamStore store, DaemonMetrics metrics)
    {
        _db = db;
        _id = id;
        _store = store;
        _metrics = metrics;
    }

    /// <summary>Completes when nothing is queued or being written.</summary>
    public Task Idle
    {
        get
        {
            lock (_lock)
            {
                return _flush;
            }
        }
    }

    public void Append(LogFrame frame)
    {
        lock (_lock)
        {
            _pending.Add(frame);
            StartLocked();
        }
    }

    public void Complete(bool expired)
    {
        lock (_lock)
        {
            _completed = expired;
            StartLocked();
        }
    }

    public async Task<bool> ReadElsewhereAsync() => await _db.KeyExistsAsync(RedisKeys.Lease(_id)).ConfigureAwait(false);

    private void StartLocked()
    {
        if (!_writing)
        {
            _writing = true;
            _flush = WriteAsync();
        }
    }

    private async Task WriteAsync()
    {
        await Task.Yield(); // the session's thread goes back to relaying; the write runs beside it
        while (true)
        {
            List<LogFrame> frames;
            bool? completed;
            lock (_lock)
            {
                if (_pending.Count == 0 && (_completed is null || _completionWritten))
                {
                    _writing = false;
                    return;
                }

                frames = _pending;
                _pending = _spare;
                _spare = frames;
                completed = _completed; // every frame before the completion is in this batch
            }

            try
            {
                await WriteBatchAsync(frames, completed).ConfigureAwait(false);
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                _store.Failed(_id, e);
            }

            frames.Clear();
            if (completed is not null)
            {
                lock (_lock)
                {
                    _completionWritten = true;
                }

                _store.Forget(_id);
            }
        }
    }

    private async Task WriteBatchAsync(List<LogFrame> frames, bool? completed)
    {
        var key = RedisKeys.Log(_id);
        var batch = _db.CreateBatch();
        var writes = new List<Task>(frames.Count + 2);
        foreach (var f in frames)
        {
            writes.Add(batch.StreamAddAsync(key, [new NameValueEntry("f", f.Bytes)], RedisKeys.EntryId(f.N), _store.Settings.MaxLogFrames, useApproximateMaxLength: true));
        }

        if (completed == true)
        {
            writes.Add(batch.KeyDeleteAsync([key, RedisKeys.Meta(_id), RedisKeys.Lease(_id)])); // expired: nobody may resume it
        }
        else if (completed == false || !_ttlSet)
        {
            // Live: as long as a stream may last; ended: resume.keep_seconds. Set twice, not per batch.
            var ttl = completed == false ? _store.Settings.Keep : _store.LiveTtl;
            writes.Add(batch.KeyExpireAsync(key, ttl));
            writes.Add(batch.KeyExpireAsync(RedisKeys.Meta(_id), ttl));
            _ttlSet = true;
        }

        batch.Execute();
        await Task.WhenAll(writes).ConfigureAwait(false);
        _metrics.CountRedisWrite(frames.Count);
    }
}
