using GptWsDaemon.Protocol;

namespace GptWsDaemon.Upstream;

/// <summary>A model that streams an answer: the OpenAI-compatible provider or the offline demo.</summary>
public interface IChatUpstream
{
    /// <summary>"providers" or "demo", as /healthz reports it.</summary>
    string Name { get; }

    /// <summary>The configured providers, for /healthz; none for the demo.</summary>
    IReadOnlyList<Providers.Provider> Providers => [];

    /// <summary>
    /// Streams the answer. Throws <see cref="UpstreamException"/> on failure and <see cref="OperationCanceledException"/>
    /// when <paramref name="cancellationToken"/> fires; ending the enumeration early aborts the upstream request.
    /// The caller does not keep <paramref name="request"/> for the upstream: an implementation that needs the text later
    /// than this call keeps its own reference.
    /// </summary>
    IAsyncEnumerable<UpstreamChunk> StreamAsync(ChatRequest request, CancellationToken cancellationToken);
}
