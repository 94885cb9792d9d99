namespace GptWsBench.Load;

/// <summary>One concurrent client of a path: runs streams one after the other.</summary>
public interface IStreamWorker : IAsyncDisposable
{
    /// <summary>Runs one stream to its end, reporting every frame to <paramref name="tracker"/>; never throws for a broken stream.</summary>
    Task RunAsync(StreamTracker tracker, CancellationToken cancellationToken);
}
