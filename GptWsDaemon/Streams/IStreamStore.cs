namespace GptWsDaemon.Streams;

/// <summary>
/// Where resumable logs live beyond this process (Redis Streams, protocol.md §4.5): a stream started here is written
/// there; a stream started elsewhere is resumed from there; takeovers and cancels reach the instance that runs it.
/// </summary>
internal interface IStreamStore : IAsyncDisposable
{
    /// <summary>Routes takeovers and cancels from other instances to <paramref name="registry"/>.</summary>
    void Bind(StreamRegistry registry);

    /// <summary>A writer for a new stream's log; null when the store is down and resume.on_store_error = memory.</summary>
    /// <exception cref="StoreUnavailableException">The store is down and resume.on_store_error = fail.</exception>
    IStreamLogWriter? OpenWriter(string streamId, string? owner);

    /// <summary>Attaches <paramref name="subscription"/> to a stream another instance runs; the refusal text, or null when attached.</summary>
    Task<string?> ResumeAsync(StreamSubscription subscription, string streamId, long after, string? owner);

    /// <summary>Tells every instance that <paramref name="token"/>'s reader now follows <paramref name="streamId"/>.</summary>
    void PublishTakeover(string streamId, string token);

    /// <summary>Tells the instance running <paramref name="streamId"/> to cancel it.</summary>
    void PublishCancel(string streamId);

    /// <summary>Waits (bounded) until every queued frame is written: shutdown must leave every log with its final frame.</summary>
    Task FlushAsync(TimeSpan limit);
}
