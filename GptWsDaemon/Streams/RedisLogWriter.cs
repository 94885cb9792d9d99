using StackExchange.Redis;

namespace GptWsDaemon.Streams;

/// <summary>One stream's handle on the store-wide <see cref="RedisLogBatcher"/>: its queued frames, its end, its lease check.</summary>
internal sealed class RedisLogWriter(RedisLogBatcher batcher, string streamId, string owner) : IStreamLogWriter
{
    /// <summary>The stream.</summary>
    public string StreamId { get; } = streamId;

    /// <summary>Its log's key, made once.</summary>
    public RedisKey Key { get; } = RedisKeys.Log(streamId);

    /// <summary>Its owner key, and what the first batch writes there (<c>INSTANCE OWNER</c>).</summary>
    public RedisKey MetaKey { get; } = RedisKeys.Meta(streamId);

    /// <inheritdoc cref="MetaKey"/>
    public string Owner { get; } = owner;

    // The batcher's, under its lock: frames queued (n, where in the batch buffer, how long), frames being written, the end.
    internal List<(long N, int At, int Length)> Queued { get; set; } = [];

    internal List<(long N, int At, int Length)> Writing { get; set; } = [];

    internal bool? End { get; set; }

    internal bool InBatch { get; set; }

    /// <summary>False until its first batch set the log key's expiry.</summary>
    internal bool TtlSet { get; set; }

    public void Append(LogFrame frame) => batcher.Enqueue(this, frame, null);

    public void Complete(bool expired) => batcher.Enqueue(this, null, expired);

    public Task<bool> ReadElsewhereAsync() => batcher.LeaseExistsAsync(StreamId);
}
