using System.Buffers;
using GptWsDaemon.Observability;
using StackExchange.Redis;

namespace GptWsDaemon.Streams;

/// <summary>
/// Writes every stream's frames to Redis for the whole instance: frames queue while a write is in flight and go out
/// together in the next one — one script call for all of them, whichever streams they belong to — so 1,000 streams
/// cost Redis a round trip per burst, not per token, and an idle instance adds no delay to a first frame. A queued
/// frame is copied into the batch's own buffer (the log's chunks may be reused before it is written), and nothing is
/// allocated per frame but its two slots in the script's arguments.
/// </summary>
internal sealed class RedisLogBatcher
{
    // KEYS: (log, owner key) per stream. ARGV: MAXLEN, then per stream: frame count, expiry in ms and the owner value
    // (its first batch only: 0 and "" after), then (n, frame) pairs. The owner key rides with the first frames, so
    // starting a stream costs no round trip of its own. pcall: one bad entry (an id already written, after a retry)
    // must not stop the rest of the batch.
    private const string AppendScript = """
        local a = 2
        for k = 1, #KEYS, 2 do
          local count = tonumber(ARGV[a]); local ttl = tonumber(ARGV[a + 1]); local owner = ARGV[a + 2]; a = a + 3
          if owner ~= '' then redis.pcall('SET', KEYS[k + 1], owner, 'PX', ttl) end
          for j = 1, count do
            redis.pcall('XADD', KEYS[k], 'MAXLEN', '~', ARGV[1], '0-' .. ARGV[a], 'f', ARGV[a + 1])
            a = a + 2
          end
          if ttl > 0 then redis.pcall('PEXPIRE', KEYS[k], ttl) end
        end
        return 0
        """;

    private const int MaxQueuedBytes = 64 << 20; // Redis slower than the streams: beyond this, frames are not copied there
    private readonly IDatabase _db;
    private readonly RedisStreamStore _store;
    private readonly DaemonMetrics _metrics;
    private readonly Lock _lock = new();
    private List<RedisLogWriter> _queued = [];
    private List<RedisLogWriter> _writing = [];
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
    private byte[] _spareBuffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
    private int _queuedBytes;
    private bool _running;
    private Task _flush = Task.CompletedTask;

    public RedisLogBatcher(IDatabase db, RedisStreamStore store, DaemonMetrics metrics)
    {
        _db = db;
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

    /// <summary>Queues a frame (<paramref name="frame"/>) or a stream's end (<paramref name="expired"/>); never waits.</summary>
    public void Enqueue(RedisLogWriter writer, LogFrame? frame, bool? expired)
    {
        lock (_lock)
        {
            if (frame is { } f)
            {
                var length = f.Bytes.Length;
                if (_queuedBytes + length > MaxQueuedBytes)
                {
                    _metrics.CountResumeStoreError();
                    return;
                }

                if (_queuedBytes + length > _buffer.Length)
                {
                    var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _queuedBytes + length));
                    _buffer.AsSpan(0, _queuedBytes).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(_buffer);
                    _buffer = bigger;
                }

                f.Bytes.Span.CopyTo(_buffer.AsSpan(_queuedBytes));
                writer.Queued.Add((f.N, _queuedBytes, length));
                _queuedBytes += length;
            }
            else
            {
                writer.End = expired;
            }

            if (!writer.InBatch)
            {
                writer.InBatch = true;
                _queued.Add(writer);
            }

            if (!_running)
            {
                _running = true;
                _flush = RunAsync();
            }
        }
    }

    public async Task<bool> LeaseExistsAsync(string streamId) => await _db.KeyExistsAsync(RedisKeys.Lease(streamId)).ConfigureAwait(false);

    private async Task RunAsync()
    {
        await Task.Yield(); // the session's thread goes back to relaying; the write runs beside it
        while (true)
        {
            List<RedisLogWriter> writers;
            byte[] bytes;
            var ends = new List<(RedisLogWriter Writer, bool Expired)>(0);
            lock (_lock)
            {
                if (_queued.Count == 0)
                {
                    _running = false;
                    return;
                }

                (writers, _queued, _writing) = (_queued, _writing, _queued);
                (bytes, _buffer, _spareBuffer) = (_buffer, _spareBuffer, _buffer); // the spare is written to again once this batch is done
                _queuedBytes = 0;
                foreach (var w in writers)
                {
                    (w.Writing, w.Queued) = (w.Queued, w.Writing);
                    w.InBatch = false;
                    if (w.End is { } expired)
                    {
                        ends.Add((w, expired)); // after every frame of it, all in this batch
                        w.End = null;
                    }
                }
            }

            try
            {
                await WriteAsync(writers, bytes, ends).ConfigureAwait(false);
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                _store.Failed("write", e);
            }

            foreach (var w in writers)
            {
                w.Writing.Clear();
            }

            writers.Clear();
        }
    }

    private async Task WriteAsync(List<RedisLogWriter> writers, byte[] bytes, List<(RedisLogWriter Writer, bool Expired)> ends)
    {
        var frames = 0;
        foreach (var w in writers)
        {
            frames += w.Writing.Count;
        }

        var keys = new RedisKey[2 * writers.Count];
        var args = new RedisValue[1 + (3 * writers.Count) + (2 * frames)];
        args[0] = _store.Settings.MaxLogFrames;
        var a = 1;
        for (var k = 0; k < writers.Count; k++)
        {
            var w = writers[k];
            keys[2 * k] = w.Key;
            keys[(2 * k) + 1] = w.MetaKey;
            args[a++] = w.Writing.Count;
            args[a++] = w.TtlSet ? 0 : (long)_store.LiveTtl.TotalMilliseconds; // live: as long as a stream may last; set once
            args[a++] = w.TtlSet ? RedisValue.EmptyString : w.Owner;
            w.TtlSet = true;
            foreach (var (n, at, length) in w.Writing)
            {
                args[a++] = n;
                args[a++] = bytes.AsMemory(at, length);
            }
        }

        var batch = _db.CreateBatch();
        var writes = new List<Task>(1 + (2 * ends.Count)) { batch.ScriptEvaluateAsync(AppendScript, keys, args) };
        foreach (var (writer, expired) in ends)
        {
            var id = writer.StreamId;
            if (expired)
            {
                writes.Add(batch.KeyDeleteAsync([writer.Key, writer.MetaKey, RedisKeys.Lease(id)])); // nobody may resume it
            }
            else
            {
                writes.Add(batch.KeyExpireAsync(writer.Key, _store.Settings.Keep));
                writes.Add(batch.KeyExpireAsync(writer.MetaKey, _store.Settings.Keep));
            }
        }

        batch.Execute();
        await Task.WhenAll(writes).ConfigureAwait(false);
        if (frames > 0)
        {
            _metrics.CountRedisWrite(frames);
        }
    }
}
