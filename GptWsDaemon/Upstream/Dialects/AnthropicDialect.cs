using System.Net.Http.Headers;
using GptWsDaemon.Protocol;
using GptWsDaemon.Upstream.Providers;

namespace GptWsDaemon.Upstream.Dialects;

/// <summary>
/// Anthropic's Messages API: <c>POST {base}/v1/messages</c> with <c>x-api-key</c> and <c>anthropic-version</c>, system
/// and developer messages joined into <c>system</c>, and typed events (<see cref="AnthropicEvents"/>). The API requires
/// <c>max_tokens</c>: the client's with <c>openai_parameter: false</c>, else <c>limits.max_tokens</c>.
/// </summary>
public sealed class AnthropicDialect : IDialect
{
    private readonly Uri _messages;
    private readonly string _version;
    private readonly int _maxTokens;
    private readonly string _provider;

    /// <summary>Creates the dialect; <paramref name="maxTokens"/> is sent when the client leaves sampling to the provider.</summary>
    public AnthropicDialect(ProviderSettings settings, int maxTokens)
    {
        _messages = new Uri(settings.BaseUrl + "/v1/messages");
        _version = settings.AnthropicVersion;
        _maxTokens = maxTokens;
        _provider = settings.Name;
    }

    /// <inheritdoc/>
    public string EndMarker => "message_stop";

    /// <inheritdoc/>
    public Uri UriFor(ChatRequest request, string model) => _messages;

    /// <inheritdoc/>
    public void AddHeaders(HttpRequestHeaders headers, ApiKey key)
    {
        headers.TryAddWithoutValidation("x-api-key", key.Value);
        headers.TryAddWithoutValidation("anthropic-version", _version);
    }

    /// <inheritdoc/>
    /// <exception cref="UpstreamException">A field or message this API cannot take (1004).</exception>
    public byte[] WriteBody(ChatRequest request, string model)
    {
        var unsupported = request.PassThrough.Select(p => p.Key).FirstOrDefault()
            ?? (request.ReasoningEffort is not null ? "reasoning_effort" : null)
            ?? (request.Messages.Any(m => m.Role == "tool" || m.ToolCallsJson is not null) ? "messages: tool calls and results" : null);
        if (unsupported is not null)
        {
            throw new UpstreamException(ErrorCodes.BadParameter, $"{unsupported}: not supported by provider {_provider} (kind anthropic)");
        }

        var scratch = JsonScratch.ForThread;
        try
        {
            var w = scratch.Writer;
            var p = request.Parameters;
            w.WriteStartObject();
            w.WriteString("model"u8, model);
            w.WriteNumber("max_tokens"u8, Math.Min(request.OpenAiParameter ? _maxTokens : p.MaxTokens, request.OutputCap ?? int.MaxValue));
            w.WriteBoolean("stream"u8, true);
            var system = string.Join("\n\n", request.Messages.Where(m => m.Role is not ("user" or "assistant")).Select(m => m.Content));
            if (system.Length > 0)
            {
                w.WriteString("system"u8, system);
            }

            w.WriteStartArray("messages"u8);
            foreach (var m in request.Messages)
            {
                if (m.Role is "user" or "assistant")
                {
                    w.WriteStartObject();
                    w.WriteString("role"u8, m.Role);
                    if (m.PartsJson is { } parts)
                    {
                        AnthropicContent.Write(w, parts, _provider);
                    }
                    else
                    {
                        w.WriteString("content"u8, m.Content);
                    }

                    w.WriteEndObject();
                }
            }

            w.WriteEndArray();
            if (!request.OpenAiParameter)
            {
                // protocol.md §4 "openai_parameter": the parameters this API has; it knows no penalties or best_of.
                w.WriteNumber("temperature"u8, p.Temperature);
                w.WriteNumber("top_p"u8, p.TopP);
                if (p.Stop.Count > 0)
                {
                    w.WriteStartArray("stop_sequences"u8);
                    foreach (var s in p.Stop)
                    {
                        w.WriteStringValue(s);
                    }

                    w.WriteEndArray();
                }
            }

            OpenAiRequestBody.WriteRaw(w, request.ExtraBody);
            w.WriteEndObject();
            return scratch.ToArray();
        }
        finally
        {
            scratch.Reset();
        }
    }

    /// <inheritdoc/>
    public EventVerdict Read(in SseEvent ev, StreamState state, out UpstreamChunk chunk) =>
        AnthropicEvents.Read(ev.Data.Span, state, out chunk);
}
