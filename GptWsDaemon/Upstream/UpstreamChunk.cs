using GptWsDaemon.Protocol;

namespace GptWsDaemon.Upstream;

/// <summary>What one upstream event carries: a piece of text, the end reason, the token counts — any of them may be absent.</summary>
/// <param name="Content">
/// Text delta (empty when the event has none). From <see cref="ProviderStreams"/> it lives in a buffer reused for the
/// next event: read it before asking the stream for the next chunk, or copy it.
/// </param>
/// <param name="FinishReason">stop, length, … or null while streaming.</param>
/// <param name="Usage">Token counts (the last chunk with include_usage), or null.</param>
/// <param name="Origin">On a stream's first chunk: the provider and key serving it (null from the demo and on later chunks).</param>
public readonly record struct UpstreamChunk(ReadOnlyMemory<char> Content, string? FinishReason, UsageInfo? Usage, ServedBy? Origin = null)
{
    /// <summary>Reasoning text (<c>reasoning_content</c>, <c>reasoning</c>, a reasoning summary): never part of <see cref="Content"/>; same lifetime.</summary>
    public ReadOnlyMemory<char> Reasoning { get; init; }

    /// <summary>True when <see cref="Content"/> is a refusal's text.</summary>
    public bool Refusal { get; init; }

    /// <summary>On the finish: the assembled tool calls as a JSON array (protocol.md §5.2), or null.</summary>
    public byte[]? ToolCalls { get; init; }
}
