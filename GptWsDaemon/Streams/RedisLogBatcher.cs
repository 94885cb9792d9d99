using GptWsDaemon.Observability;
using StackExchange.Redis;

namespace GptWsDaemon.Streams;

/// <summary>
/// Writes every stream's frames to Redis for the whole instance: frames queue while a write is in flight and go out
/// together in the next one — one script call for all of them, whichever streams they belong to — so 1,000 streams
/// cost Redis a round trip per burst, not per token, and an idle instance adds no delay to a first frame.
/// </summary>
internal sealed class RedisLogBatcher
{
    // ARGV: MAXLEN, then per key: frame count, expiry in ms (0: leave it), then (n, frame) pairs. pcall: one bad entry
    // (an id already written, after a retry) must not stop the rest of the batch.
    private const string AppendScript = """
        local a = 2
        for k = 1, #KEYS do
          local count = tonumber(ARGV[a]); local ttl = tonumber(ARGV[a + 1]); a = a + 2
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
    // A queued frame is copied into the batch's own buffer (n, where, how long): the log's chunks may be reused before
    // the batch is written, and a copy per frame would be an object per frame.
    private List<(RedisLogWriter Writer, long N, int At, int Length, bool? Expired)> _queue = [];
    private List<(RedisLogWriter Writer, long N, int At, int Length, bool? Expired)> _spare = [];
    private byte[] _buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(64 * 1024);
    private byte[] _spareBuffer = System.Buffers.ArrayPool<byte>.Shared.Rent(64 * 1024);
    private int _queuedBytes;
    private bool _writing;
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
            var length = frame?.Bytes.Length ?? 0;
            if (frame is not null && _queuedBytes + length > MaxQueuedBytes)
            {
                _metrics.CountResumeStoreError();
                return;
            }

            if (_queuedBytes + length > _buffer.Length)
            {
                var bigger = System.Buffers.ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _queuedBytes + length));
                _buffer.AsSpan(0, _queuedBytes).CopyTo(bigger);
                System.Buffers.ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = bigger;
            }

            frame?.Bytes.Span.CopyTo(_buffer.AsSpan(_queuedBytes));
            _queue.Add((writer, frame?.N ?? 0, _queuedBytes, length, expired));
            _queuedBytes += length;
            if (!_writing)
            {
                _writing = true;
                _flush = WriteAsync();
            }
        }
    }

    public async Task<bool> LeaseExistsAsync(string streamId) => await _db.KeyExistsAsync(RedisKeys.Lease(streamId)).ConfigureAwait(false);

    private async Task WriteAsync()
    {
        await Task.Yield(); // the session's thread goes back to relaying; the write runs beside it
        while (true)
        {
            List<(RedisLogWriter Writer, long N, int At, int Length, bool? Expired)> batch;
            byte[] bytes;
            lock (_lock)
            {
                if (_queue.Count == 0)
                {
                    _writing = false;
                    return;
                }

                batch = _queue;
                _queue = _spare;
                _spare = batch;
                bytes = _buffer;
                _buffer = _spareBuffer;
                _spareBuffer = bytes; // written to again only once this batch is done: one write is in flight at a time
                _queuedBytes = 0;
            }

            try
            {
                await WriteBatchAsync(batch, bytes).ConfigureAwait(false);
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                _store.Failed("write", e);
            }

            batch.Clear();
        }
    }

    private async Task WriteBatchAsync(List<(RedisLogWriter Writer, long N, int At, int Length, bool? Expired)> batch, byte[] bytes)
    {
        // Frames grouped by stream, in order; a stream's end after its frames.
        var keys = new List<RedisKey>();
        var args = new List<RedisValue> { _store.Settings.MaxLogFrames };
        var frames = 0;
        var ends = new List<(RedisLogWriter Writer, bool Expired)>();
        foreach (var group in batch.GroupBy(e => e.Writer))
        {
            var writer = group.Key;
            var countAt = args.Count;
            args.Add(0);
            args.Add(writer.TtlSet ? 0 : (long)_store.LiveTtl.TotalMilliseconds);
            var count = 0;
            foreach (var (_, n, at, length, expired) in group)
            {
                if (expired is null)
                {
                    args.Add(n);
                    args.Add(bytes.AsMemory(at, length));
                    count++;
                }
                else
                {
                    ends.Add((writer, expired!.Value));
                }
            }

            writer.TtlSet = true;
            args[countAt] = count;
            keys.Add(RedisKeys.Log(writer.StreamId));
            frames += count;
        }

        var b = _db.CreateBatch();
        var writes = new List<Task> { b.ScriptEvaluateAsync(AppendScript, [.. keys], [.. args]) };
        foreach (var (writer, expired) in ends)
        {
            var id = writer.StreamId;
            if (expired)
            {
                writes.Add(b.KeyDeleteAsync([RedisKeys.Log(id), RedisKeys.Meta(id), RedisKeys.Lease(id)])); // nobody may resume it
            }
            else
            {
                writes.Add(b.KeyExpireAsync(RedisKeys.Log(id), _store.Settings.Keep));
                writes.Add(b.KeyExpireAsync(RedisKeys.Meta(id), _store.Settings.Keep));
            }
        }

        b.Execute();
        await Task.WhenAll(writes).ConfigureAwait(false);
        if (frames > 0)
        {
            _metrics.CountRedisWrite(frames);
        }
    }
}
