namespace GptWsBench.Load;

/// <summary>One way of getting an answer streamed: straight from the upstream, through the daemon, or through the peer.</summary>
public interface IStreamPath : IAsyncDisposable
{
    /// <summary>Short name for the table.</summary>
    string Name { get; }

    /// <summary>
    /// Tokens the gateway must see after a frame's last one before it may send that frame: 0 when it relays deltas,
    /// 1 for sentence mode, whose segmenter only knows a sentence has ended (closing quote? abbreviation? more white
    /// space?) when the next character arrives. Latency is measured from that releasing token.
    /// </summary>
    int ReleaseLookahead => 0;

    /// <summary>Opens what one concurrent client needs (a WebSocket, or nothing for HTTP paths).</summary>
    Task<IStreamWorker> OpenWorkerAsync(CancellationToken cancellationToken);
}
