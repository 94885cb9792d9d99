using GptWsDaemon.Protocol;

namespace GptWsDaemon.Upstream.Dialects;

/// <summary>Writes the JSON body sent to /chat/completions or /completions (protocol.md §4 <c>openai_parameter</c>).</summary>
public static class OpenAiRequestBody
{
    /// <summary>Serializes the body.</summary>
    /// <param name="request">The request.</param>
    /// <param name="model">The model sent.</param>
    /// <param name="completions">True for a prompt-only model: a prompt instead of messages, and best_of.</param>
    public static byte[] Write(ChatRequest request, string model, bool completions)
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
                w.WriteStartArray("messages"u8);
                foreach (var m in request.Messages)
                {
                    w.WriteStartObject();
                    w.WriteString("role"u8, m.Role);
                    w.WriteString("content"u8, m.Content);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
            }

            w.WriteBoolean("stream"u8, true);
            w.WriteStartObject("stream_options"u8);
            w.WriteBoolean("include_usage"u8, true);
            w.WriteEndObject();

            if (!request.OpenAiParameter)
            {
                // protocol.md §4: "false: send every parameter below, the client's value or else this table's default".
                var p = request.Parameters;
                w.WriteNumber("temperature"u8, p.Temperature);
                w.WriteNumber("max_tokens"u8, p.MaxTokens);
                w.WriteNumber("top_p"u8, p.TopP);
                w.WriteNumber("frequency_penalty"u8, p.FrequencyPenalty);
                w.WriteNumber("presence_penalty"u8, p.PresencePenalty);
                if (completions)
                {
                    w.WriteNumber("best_of"u8, p.BestOf);
                }

                // An empty list means "no stop sequence"; providers reject "stop": [], so it is left out.
                if (p.Stop.Count > 0)
                {
                    w.WriteStartArray("stop"u8);
                    foreach (var s in p.Stop)
                    {
                        w.WriteStringValue(s);
                    }

                    w.WriteEndArray();
                }
            }

            w.WriteEndObject();
            return scratch.ToArray();
        }
        finally
        {
            scratch.Reset();
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
