using System.Collections.Concurrent;
using GptWsDaemon.Observability;
using GptWsDaemon.Protocol;
using StackExchange.Redis;

namespace GptWsDaemon.Streams;

/// <summary>
/// Resumable logs in Redis Streams, shared by every instance (protocol.md §4.5): streams started here are copied there
/// (<see cref="RedisLogWriter"/>), streams started elsewhere are followed from there (<see cref="RedisTail"/>,
/// <see cref="RedisTailPump"/>), takeovers and cancels travel over one pub/sub channel, and each instance keeps a
/// heartbeat key so a reader learns when the instance running its stream died without ending it.
/// </summary>
internal sealed class RedisStreamStore : IStreamStore
{
    private const string DeleteIfMine = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";
    private static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan LeaseTtl = TimeSpan.FromSeconds(5); // refreshed about every second by the reader's pump
    private readonly ConnectionMultiplexer _redis;
    private readonly DaemonMetrics _metrics;
    private readonly LogThrottle _failures;
    private readonly RedisLogBatcher _batcher;
    private readonly ConcurrentDictionary<RedisTail, byte> _tails = new();
    private readonly RedisTailPump _pump;
    private readonly Timer _heartbeat;
    private StreamRegistry? _registry;
    private long _leasesAt;

    private RedisStreamStore(ConnectionMultiplexer redis, ConnectionMultiplexer blocking, ResumeSettings settings, TimeSpan longestStream, DaemonMetrics metrics)
    {
        _redis = redis;
        _metrics = metrics;
        _failures = new LogThrottle(5, TimeSpan.FromSeconds(30), metrics.CountSuppressedLines);
        Settings = settings;
        LiveTtl = longestStream + settings.Hold + settings.Keep;
        _pump = new RedisTailPump(blocking, this);
        _batcher = new RedisLogBatcher(redis.GetDatabase(), this, metrics);
        _heartbeat = new Timer(_ => Beat(), null, TimeSpan.Zero, Heartbeat);
    }

    /// <summary>This instance's id (its heartbeat key, the owner of the streams it runs).</summary>
    public string InstanceId { get; } = StreamIds.New();

    /// <summary>The <c>[resume]</c> settings.</summary>
    public ResumeSettings Settings { get; }

    /// <summary>How long a running stream's keys live (they are set to resume.keep_seconds when it ends).</summary>
    public TimeSpan LiveTtl { get; }

    /// <summary>Connects twice (commands and pub/sub; the blocking reads), without waiting for Redis to be up.</summary>
    public static async Task<RedisStreamStore> ConnectAsync(string configuration, ResumeSettings settings, TimeSpan longestStream, DaemonMetrics metrics)
    {
        var options = ConfigurationOptions.Parse(configuration);
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = 2000;
        options.SyncTimeout = 2000;
        options.AsyncTimeout = 2000;
        var blockingOptions = options.Clone();
        blockingOptions.AsyncTimeout = 5000; // beyond the 1 s XREAD BLOCK
        var redis = await ConnectionMultiplexer.ConnectAsync(options).ConfigureAwait(false);
        var blocking = await ConnectionMultiplexer.ConnectAsync(blockingOptions).ConfigureAwait(false);
        return new RedisStreamStore(redis, blocking, settings, longestStream, metrics);
    }

    /// <summary>The registry takeovers and cancels from other instances go to.</summary>
    public void Bind(StreamRegistry registry)
    {
        _registry = registry;
        // Not awaited: with Redis down the daemon still starts; the subscription is restored when Redis comes back.
        _ = _redis.GetSubscriber().SubscribeAsync(RedisKeys.Channel, (_, message) => Received(message)).ContinueWith(
            t => Failed("subscribe", t.Exception!.GetBaseException()), CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
    }

    /// <inheritdoc/>
    public IStreamLogWriter? OpenWriter(string streamId, string? owner)
    {
        if (!_redis.IsConnected)
        {
            _metrics.CountResumeStoreError();
            if (!Settings.MemoryOnStoreError)
            {
                throw new StoreUnavailableException("resumable streams are unavailable: the resume log (Redis) cannot be reached; retry, or send the request without resumable");
            }

            StreamRegistry.Log.Warn("stream {0}: Redis cannot be reached; its log is kept in memory here only (resume.on_store_error = memory)", streamId);
            return null;
        }

        return new RedisLogWriter(_batcher, streamId, $"{InstanceId} {owner ?? "-"}"); // the owner key goes with its first frames
    }

    /// <inheritdoc/>
    public async Task<string?> ResumeAsync(StreamSubscription subscription, string streamId, long after, string? owner)
    {
        var db = _redis.GetDatabase();
        var meta = (string?)await db.StringGetAsync(RedisKeys.Meta(streamId)).ConfigureAwait(false);
        var parts = meta?.Split(' ', 2);
        if (parts is not { Length: 2 } || parts[1] != (owner ?? "-"))
        {
            return StreamRegistry.NotFound; // gone, or another client's (one that ended here is read back from Redis too)
        }

        var last = await db.StreamRangeAsync(RedisKeys.Log(streamId), "-", "+", 1, Order.Descending).ConfigureAwait(false);
        if (last.Length > 0 && RedisKeys.NOf(last[0].Id!) is var lastN && (lastN < after || (lastN == after && IsFinal((byte[])last[0]["f"]!))))
        {
            return $"stream {streamId}: no frame after n={after} (its last is n={lastN})";
        }

        var tail = new RedisTail(this, streamId, parts[0], subscription, after);
        subscription.Source = tail;
        const int Page = 256;
        for (var first = true; !tail.IsEnded; first = false)
        {
            var entries = await db.StreamRangeAsync(RedisKeys.Log(streamId), RedisKeys.EntryId(tail.Position + 1), "+", Page).ConfigureAwait(false);
            if (first && entries.Length > 0 && RedisKeys.NOf(entries[0].Id!) > after + 1)
            {
                return $"stream {streamId}: frames after n={after} are no longer kept (resume.max_log_frames)";
            }

            foreach (var entry in entries)
            {
                tail.Deliver(Frame(entry.Id!, entry["f"]), replay: true);
            }

            if (entries.Length < Page)
            {
                break;
            }
        }

        if (!tail.IsEnded)
        {
            PublishTakeover(streamId, subscription.Token);
            _tails[tail] = 0;
            await RefreshLeasesAsync([tail]).ConfigureAwait(false);
            db.StreamAdd(RedisKeys.Wake(InstanceId), "w", 1, maxLength: 1, useApproximateMaxLength: false, flags: CommandFlags.FireAndForget);
        }

        return null;
    }

    /// <inheritdoc/>
    public void PublishTakeover(string streamId, string token) =>
        _redis.GetSubscriber().Publish(RedisKeys.Channel, $"t {streamId} {token}", CommandFlags.FireAndForget);

    /// <inheritdoc/>
    public void PublishCancel(string streamId) =>
        _redis.GetSubscriber().Publish(RedisKeys.Channel, $"c {streamId}", CommandFlags.FireAndForget);

    /// <inheritdoc/>
    public async Task FlushAsync(TimeSpan limit)
    {
        try
        {
            await _batcher.Idle.WaitAsync(limit).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            StreamRegistry.Log.Warn("resume log: frames not all written to Redis at shutdown");
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await _heartbeat.DisposeAsync().ConfigureAwait(false);
        await _pump.DisposeAsync().ConfigureAwait(false);
        try
        {
            await _redis.GetDatabase().KeyDeleteAsync(RedisKeys.Instance(InstanceId)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            // Down: the key expires by itself.
        }

        await _redis.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>A log frame from a Redis entry: id <c>0-N</c>, field <c>f</c> the frame.</summary>
    internal static LogFrame Frame(string entryId, RedisValue bytes)
    {
        var frame = (byte[])bytes!;
        return new LogFrame(frame, RedisKeys.NOf(entryId), IsFinal(frame));
    }

    /// <summary>The tails this instance follows now.</summary>
    internal IReadOnlyList<RedisTail> Followed() => [.. _tails.Keys];

    /// <summary>A tail stopped following: its lease goes (if it is still its own).</summary>
    internal void Unfollow(RedisTail tail)
    {
        if (_tails.TryRemove(tail, out _))
        {
            _redis.GetDatabase().ScriptEvaluate(DeleteIfMine, [RedisKeys.Lease(tail.StreamId)], [tail.Subscription.Token], CommandFlags.FireAndForget);
        }
    }

    /// <summary>A Redis call failed: counted, logged (throttled).</summary>
    internal void Failed(string what, Exception e)
    {
        _metrics.CountResumeStoreError();
        if (_failures.TryWrite(out _))
        {
            StreamRegistry.Log.Warn("resume log ({0}): Redis call failed: {1}", what, e.Message);
        }
    }

    /// <summary>
    /// Pump housekeeping: keeps the leases of followed streams fresh (about once a second), and ends tails whose stream
    /// went quiet because its instance died (its heartbeat key is gone) or its log expired.
    /// </summary>
    internal async Task CheckQuietAsync(IReadOnlyList<RedisTail> quiet)
    {
        if (Environment.TickCount64 - Interlocked.Read(ref _leasesAt) > 1000)
        {
            await RefreshLeasesAsync(Followed()).ConfigureAwait(false);
        }

        var db = _redis.GetDatabase();
        foreach (var tail in quiet)
        {
            var kept = await db.KeyExistsAsync(RedisKeys.Meta(tail.StreamId)).ConfigureAwait(false);
            if (kept && await db.KeyExistsAsync(RedisKeys.Instance(tail.Instance)).ConfigureAwait(false))
            {
                continue;
            }

            foreach (var entry in await db.StreamRangeAsync(tail.Key, RedisKeys.EntryId(tail.Position + 1), "+").ConfigureAwait(false))
            {
                tail.Deliver(Frame(entry.Id!, entry["f"]), replay: false);
            }

            var seq = tail.Subscription.Seq;
            tail.EndWith(kept
                ? ReplyFrames.Error(ErrorCodes.UpstreamBroken, "the instance running this stream stopped without ending it", seq, tail.Subscription.ReceivedAt)
                : ReplyFrames.Error(ErrorCodes.StreamNotFound, StreamRegistry.NotFound, seq, tail.Subscription.ReceivedAt));
        }
    }

    private async Task RefreshLeasesAsync(IReadOnlyList<RedisTail> tails)
    {
        Interlocked.Exchange(ref _leasesAt, Environment.TickCount64);
        if (tails.Count == 0)
        {
            return;
        }

        var batch = _redis.GetDatabase().CreateBatch();
        var writes = tails.Select(t => batch.StringSetAsync(RedisKeys.Lease(t.StreamId), t.Subscription.Token, LeaseTtl)).ToList();
        batch.Execute();
        await Task.WhenAll(writes).ConfigureAwait(false);
    }

    private void Received(RedisValue message)
    {
        var parts = ((string?)message ?? string.Empty).Split(' ');
        if (parts is ["t", var id, var token])
        {
            _registry?.TakenOver(id, token);
            foreach (var tail in _tails.Keys.Where(t => t.StreamId == id && t.Subscription.Token != token))
            {
                tail.EndWith(StreamRegistry.Superseded(tail.Subscription));
            }
        }
        else if (parts is ["c", var cancelled])
        {
            _registry?.CancelledElsewhere(cancelled);
        }
    }

    private void Beat()
    {
        try
        {
            _redis.GetDatabase().StringSet(RedisKeys.Instance(InstanceId), "1", Heartbeat * 3, flags: CommandFlags.FireAndForget);
        }
        catch (Exception e) when (e is RedisException or ObjectDisposedException)
        {
            // Down or disposing: readers elsewhere see the key lapse.
        }
    }

    // The final frame is the one that is not a content/reasoning frame: its finish_reason is not null.
    private static bool IsFinal(ReadOnlySpan<byte> frame) => frame.IndexOf("\"finish_reason\":null"u8) < 0;
}
