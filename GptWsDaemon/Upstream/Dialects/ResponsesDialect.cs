using System.Net.Http.Headers;
using System.Text.Json;
using GptWsDaemon.Protocol;
using GptWsDaemon.Upstream.Providers;

namespace GptWsDaemon.Upstream.Dialects;

/// <summary>
/// OpenAI's Responses API (<c>api = responses</c> on a provider of kind openai or azure): <c>POST …/responses</c> with
/// the chat messages as <c>input</c> items, typed events (<see cref="ResponsesEvents"/>) and no [DONE]. The key goes
/// as the provider's kind sends it.
/// </summary>
public sealed class ResponsesDialect : IDialect
{
    /// <summary>Pass-through fields the Responses API has under the same name; the others are refused, not dropped.</summary>
    private static readonly HashSet<string> Forwarded = new(StringComparer.Ordinal)
    {
        "tools", "tool_choice", "parallel_tool_calls", "metadata", "store", "user", "service_tier", "top_logprobs",
    };

    private readonly Uri _endpoint;
    private readonly string _provider;
    private readonly bool _azureKey;
    private readonly IReadOnlyList<ModelRule> _rules;

    /// <summary>Creates the dialect for <paramref name="settings"/>.</summary>
    public ResponsesDialect(ProviderSettings settings, IReadOnlyList<ModelRule>? rules = null)
    {
        _azureKey = settings.Kind == ProviderKind.Azure;
        _endpoint = new Uri(!_azureKey ? settings.BaseUrl + "/responses"
            : settings.ApiVersion is { } version ? $"{settings.BaseUrl}/openai/responses?api-version={Uri.EscapeDataString(version)}"
            : settings.BaseUrl + "/openai/v1/responses");
        _provider = settings.Name;
        _rules = rules ?? ModelRule.BuiltIn;
    }

    /// <inheritdoc/>
    public string EndMarker => "response.completed";

    /// <inheritdoc/>
    public Uri UriFor(ChatRequest request, string model) => _endpoint;

    /// <inheritdoc/>
    public void AddHeaders(HttpRequestHeaders headers, ApiKey key)
    {
        if (_azureKey)
        {
            headers.TryAddWithoutValidation("api-key", key.Value);
        }
        else
        {
            headers.TryAddWithoutValidation("Authorization", key.Bearer);
        }
    }

    /// <inheritdoc/>
    /// <exception cref="UpstreamException">A request field the Responses API does not have (1004).</exception>
    public byte[] WriteBody(ChatRequest request, string model)
    {
        foreach (var (name, _) in request.PassThrough.Where(p => !Forwarded.Contains(p.Key)))
        {
            throw new UpstreamException(ErrorCodes.BadParameter, $"{name}: the Responses API of provider {_provider} has no such field");
        }

        var scratch = JsonScratch.ForThread;
        try
        {
            var w = scratch.Writer;
            w.WriteStartObject();
            w.WriteString("model"u8, model);
            w.WriteStartArray("input"u8);
            foreach (var m in request.Messages)
            {
                ResponsesInput.Write(w, m, _provider);
            }

            w.WriteEndArray();
            w.WriteBoolean("stream"u8, true);
            var rule = ModelRule.For(_rules, request.UpstreamModel);
            var p = request.Parameters;
            bool Send(SamplingField field) => !request.OpenAiParameter && (!rule.ClientSamplingOnly || p.IsExplicit(field));
            if (Send(SamplingField.MaxTokens) || request.OutputCap is not null)
            {
                w.WriteNumber("max_output_tokens"u8, Send(SamplingField.MaxTokens) ? Math.Min(p.MaxTokens, request.OutputCap ?? int.MaxValue) : request.OutputCap!.Value);
            }

            if (Send(SamplingField.Temperature))
            {
                w.WriteNumber("temperature"u8, p.Temperature);
            }

            if (Send(SamplingField.TopP))
            {
                w.WriteNumber("top_p"u8, p.TopP);
            }

            if (request.ReasoningEffort is not null || request.RelayReasoning)
            {
                w.WriteStartObject("reasoning"u8);
                if (request.ReasoningEffort is { } effort)
                {
                    w.WriteString("effort"u8, effort);
                }

                if (request.RelayReasoning)
                {
                    w.WriteString("summary"u8, "auto"); // summaries stream only when asked for
                }

                w.WriteEndObject();
            }

            OpenAiRequestBody.WriteRaw(w, request.PassThrough);
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
    public EventVerdict Read(in SseEvent ev, StreamState state, out UpstreamChunk chunk) => ResponsesEvents.Read(ev.Data.Span, state, out chunk);
}
