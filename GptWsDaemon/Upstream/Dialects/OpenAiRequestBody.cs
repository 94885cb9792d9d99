using System.Text.Json;
using GptWsDaemon.Protocol;
using GptWsDaemon.Upstream.Providers;

namespace GptWsDaemon.Upstream.Dialects;

/// <summary>
/// Writes the JSON body sent to /chat/completions or /completions (protocol.md §4.1): the messages as providers take
/// them, <c>openai_parameter</c>'s sampling parameters shaped by the model's <see cref="ModelRule"/>,
/// <c>reasoning_effort</c>, the pass-through fields and <c>extra_body</c> as the client wrote them.
/// </summary>
public static class OpenAiRequestBody
{
    /// <summary>Serializes the body.</summary>
    /// <param name="request">The request.</param>
    /// <param name="model">The model sent.</param>
    /// <param name="completions">True for a prompt-only model: a prompt instead of messages, and best_of.</param>
    /// <param name="rule">The model's rule (output cap name, which sampling values go out).</param>
    public static byte[] Write(ChatRequest request, string model, bool completions, ModelRule rule)
    {
        var scratch = JsonScratch.ForThread;
        try
        {
            var w = scratch.Writer;
            w.WriteStartObject();
            w.WriteString("model"u8, model);
            if (completions)
            {
                w.WriteString("prompt"u8, request.Query.Length > 0 ? request.Query : FlattenToPrompt(request.Messages));
            }
            else
            {
                WriteMessages(w, request.Messages);
            }

            w.WriteBoolean("stream"u8, true);
            w.WriteStartObject("stream_options"u8);
            w.WriteBoolean("include_usage"u8, true);
            w.WriteEndObject();
            if (!request.OpenAiParameter)
            {
                WriteSampling(w, request.Parameters, completions, rule, request.OutputCap);
            }
            else if (request.OutputCap is { } cap)
            {
                w.WriteNumber(rule.MaxTokensParam, cap); // protocol.md §4.4: the operator's cap goes out whatever the client leaves to the provider
            }

            if (request.ReasoningEffort is { } effort)
            {
                w.WriteString("reasoning_effort"u8, effort);
            }

            WriteRaw(w, request.PassThrough);
            WriteRaw(w, request.ExtraBody);
            w.WriteEndObject();
            return scratch.ToArray();
        }
        finally
        {
            scratch.Reset();
        }
    }

    /// <summary>Members written as the client sent them (raw JSON).</summary>
    internal static void WriteRaw(Utf8JsonWriter w, IReadOnlyList<KeyValuePair<string, string>> members)
    {
        foreach (var (name, json) in members)
        {
            w.WritePropertyName(name);
            w.WriteRawValue(json, skipInputValidation: true);
        }
    }

    private static void WriteMessages(Utf8JsonWriter w, IReadOnlyList<ChatMessage> messages)
    {
        w.WriteStartArray("messages"u8);
        foreach (var m in messages)
        {
            w.WriteStartObject();
            w.WriteString("role"u8, m.Role);
            if (m.PartsJson is { } parts)
            {
                w.WritePropertyName("content"u8);
                w.WriteRawValue(parts, skipInputValidation: true);
            }
            else if (m.Content.Length == 0 && m.ToolCallsJson is not null)
            {
                w.WriteNull("content"u8); // an assistant turn that only called tools
            }
            else
            {
                w.WriteString("content"u8, m.Content);
            }

            if (m.Name is { } name)
            {
                w.WriteString("name"u8, name);
            }

            if (m.ToolCallId is { } id)
            {
                w.WriteString("tool_call_id"u8, id);
            }

            if (m.ToolCallsJson is { } calls)
            {
                w.WritePropertyName("tool_calls"u8);
                w.WriteRawValue(calls, skipInputValidation: true);
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    /// <summary>protocol.md §4.1: "false: send every parameter below, the client's value or else this table's default" — for a reasoning model only the client's.</summary>
    private static void WriteSampling(Utf8JsonWriter w, SamplingParameters p, bool completions, ModelRule rule, int? cap)
    {
        bool Send(SamplingField field) => !rule.ClientSamplingOnly || p.IsExplicit(field);
        if (Send(SamplingField.Temperature))
        {
            w.WriteNumber("temperature"u8, p.Temperature);
        }

        if (Send(SamplingField.MaxTokens) || cap is not null)
        {
            w.WriteNumber(rule.MaxTokensParam, Send(SamplingField.MaxTokens) ? Math.Min(p.MaxTokens, cap ?? int.MaxValue) : cap!.Value);
        }

        if (Send(SamplingField.TopP))
        {
            w.WriteNumber("top_p"u8, p.TopP);
        }

        if (Send(SamplingField.FrequencyPenalty))
        {
            w.WriteNumber("frequency_penalty"u8, p.FrequencyPenalty);
        }

        if (Send(SamplingField.PresencePenalty))
        {
            w.WriteNumber("presence_penalty"u8, p.PresencePenalty);
        }

        if (completions && Send(SamplingField.BestOf))
        {
            w.WriteNumber("best_of"u8, p.BestOf);
        }

        // An empty list means "no stop sequence"; providers reject "stop": [], so it is left out.
        if (p.Stop.Count > 0 && Send(SamplingField.Stop))
        {
            w.WriteStartArray("stop"u8);
            foreach (var s in p.Stop)
            {
                w.WriteStringValue(s);
            }

            w.WriteEndArray();
        }
    }

    /// <summary>Chat history as a completions prompt in the original's "Human:/AI:" shape (its default stop is "Human:").</summary>
    private static string FlattenToPrompt(IReadOnlyList<ChatMessage> messages)
    {
        var sb = new System.Text.StringBuilder();
        foreach (var m in messages)
        {
            sb.Append(m.Role switch { "user" => "Human: ", "assistant" => "AI: ", _ => string.Empty }).Append(m.Content).Append('\n');
        }

        return sb.Append("AI:").ToString();
    }
}
