using System.Net.Http.Headers;
using GptWsDaemon.Protocol;
using GptWsDaemon.Upstream.Providers;

namespace GptWsDaemon.Upstream.Dialects;

/// <summary>
/// OpenAI's chat/completions wire format (and every compatible provider's): <c>Bearer</c> key, <c>data:</c> chunks,
/// <c>[DONE]</c>. Prompt-only models (<c>gpt-3.5-turbo-instruct</c> and the like) go to /completions with a prompt.
/// Azure differs only in its URLs and header (<see cref="AzureDialect"/>).
/// </summary>
public class OpenAiDialect : IDialect
{
    private readonly Uri _chat;
    private readonly Uri _completions;
    private readonly IReadOnlyList<ModelRule> _rules;

    /// <summary>Creates the dialect for <paramref name="baseUrl"/> (…/v1), writing requests by <paramref name="rules"/> (default: the built-in ones).</summary>
    public OpenAiDialect(string baseUrl, IReadOnlyList<ModelRule>? rules = null)
    {
        _rules = rules ?? ModelRule.BuiltIn;
        // Parsed once: a Uri per request would be two more objects surviving with every stream.
        _chat = new Uri(baseUrl + "/chat/completions");
        _completions = new Uri(baseUrl + "/completions");
    }

    /// <inheritdoc/>
    public string EndMarker => "[DONE]";

    /// <summary>True for models served only by the legacy /completions endpoint.</summary>
    public static bool IsCompletionsModel(string model) =>
        model.StartsWith("text-", StringComparison.Ordinal) || model.EndsWith("-instruct", StringComparison.Ordinal)
        || model is "davinci-002" or "babbage-002";

    /// <inheritdoc/>
    public virtual Uri UriFor(ChatRequest request, string model) => IsCompletions(request) ? _completions : _chat;

    /// <inheritdoc/>
    public virtual void AddHeaders(HttpRequestHeaders headers, ApiKey key) =>
        headers.TryAddWithoutValidation("Authorization", key.Bearer);

    /// <inheritdoc/>
    public byte[] WriteBody(ChatRequest request, string model) => OpenAiRequestBody.Write(request, model, IsCompletions(request), ModelRule.For(_rules, request.UpstreamModel));

    /// <summary>Whether the model asked (not a deployment name it maps to) is a prompt-only one.</summary>
    protected static bool IsCompletions(ChatRequest request) => IsCompletionsModel(request.UpstreamModel);

    /// <inheritdoc/>
    public EventVerdict Read(in SseEvent ev, StreamState state, out UpstreamChunk chunk)
    {
        chunk = default;
        var data = ev.Data.Span;
        if (data.SequenceEqual("[DONE]"u8))
        {
            return EventVerdict.End;
        }

        if (ev.EventType == "error")
        {
            return EventVerdict.Error;
        }

        if (data.IsEmpty)
        {
            return EventVerdict.Skip; // "data:" alone: a keep-alive some servers send, no chunk
        }

        chunk = ChunkParser.Parse(data, state);
        return EventVerdict.Chunk;
    }
}
