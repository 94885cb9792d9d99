namespace GptWsDaemon.Streams;

/// <summary>The copy of one stream's log in a store other instances read (Redis): frames go out batched, never one round trip per token.</summary>
internal interface IStreamLogWriter
{
    /// <summary>Queues a frame (never waits).</summary>
    void Append(LogFrame frame);

    /// <summary>The final frame was appended (<paramref name="expired"/>: nobody resumed it; the log goes).</summary>
    void Complete(bool expired);

    /// <summary>True when a reader on another instance follows the stream (so its hold does not run out).</summary>
    Task<bool> ReadElsewhereAsync();
}
