namespace GptWsBench.Load;

/// <summary>One way of getting an answer streamed: straight from the upstream, through the daemon, or through the peer.</summary>
public interface IStreamPath : IAsyncDisposable
{
    /// <summary>Short name for the table.</summary>
    string Name { get; }

    /// <summary>Opens what one concurrent client needs (a WebSocket, or nothing for HTTP paths).</summary>
    Task<IStreamWorker> OpenWorkerAsync(CancellationToken cancellationToken);
}
