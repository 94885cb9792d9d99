namespace GptWsDaemon.Streams;

/// <summary>One stream's handle on the store-wide <see cref="RedisLogBatcher"/>: its frames, its end, its lease check.</summary>
internal sealed class RedisLogWriter(RedisLogBatcher batcher, string streamId) : IStreamLogWriter
{
    /// <summary>The stream.</summary>
    public string StreamId { get; } = streamId;

    /// <summary>False until its first batch set the log key's expiry.</summary>
    internal bool TtlSet { get; set; }

    public void Append(LogFrame frame) => batcher.Enqueue(this, frame, null);

    public void Complete(bool expired) => batcher.Enqueue(this, null, expired);

    public Task<bool> ReadElsewhereAsync() => batcher.LeaseExistsAsync(StreamId);
}
