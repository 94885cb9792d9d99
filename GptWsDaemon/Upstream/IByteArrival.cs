namespace GptWsDaemon.Upstream;

/// <summary>
/// Waits for bytes on the transport under a stream that holds nothing buffered, without going through the stream.
/// <see cref="SseReader"/> asks only after a read that returned fewer bytes than it asked for, i.e. when the stream had
/// handed over everything it held.
/// </summary>
public interface IByteArrival
{
    /// <summary>
    /// Starts the wait, or returns false when the transport cannot be waited on directly now (the body is complete, say);
    /// the reader then falls back to a zero-byte read on the stream. A wait that faults is not an error by itself: the
    /// read that follows surfaces what broke.
    /// </summary>
    bool TryWaitForBytes(CancellationToken cancellationToken, out ValueTask<int> wait);

    /// <summary>
    /// The reader was cancelled: drop the transport now, so that the sender stops (a model stops generating a paid
    /// answer), as cancelling a read pending on the stream itself would have.
    /// </summary>
    void Abandon();
}
