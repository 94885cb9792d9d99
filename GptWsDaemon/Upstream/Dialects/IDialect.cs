using System.Net.Http.Headers;
using GptWsDaemon.Protocol;
using GptWsDaemon.Upstream.Providers;

namespace GptWsDaemon.Upstream.Dialects;

/// <summary>
/// One wire format, and nothing else: where a request goes, its headers and body, and what one SSE event says. The
/// shared <see cref="ProviderStreams"/> does the rest (connections, retries, failover, deadlines, redaction, surrogate
/// pairs). Buffer lifetime on this seam: an event's bytes are valid only during <see cref="Read"/>, and a chunk's
/// texts live in the <see cref="StreamState"/>'s buffers, which the next <see cref="Read"/> overwrites — the engine
/// relays them before reading on.
/// </summary>
public interface IDialect
{
    /// <summary>What an end-of-stream problem is called in messages ("[DONE]", "message_stop").</summary>
    string EndMarker { get; }

    /// <summary>The URL for <paramref name="request"/> sent as <paramref name="model"/> (after the provider's model map).</summary>
    Uri UriFor(ChatRequest request, string model);

    /// <summary>Authentication and version headers.</summary>
    void AddHeaders(HttpRequestHeaders headers, ApiKey key);

    /// <summary>The JSON body, UTF-8.</summary>
    byte[] WriteBody(ChatRequest request, string model);

    /// <summary>
    /// Reads one event into <paramref name="chunk"/>. Throws <see cref="ReportedErrorException"/> for an error object
    /// and <see cref="UpstreamException"/> (2005) for a malformed event.
    /// </summary>
    EventVerdict Read(in SseEvent ev, StreamState state, out UpstreamChunk chunk);
}
