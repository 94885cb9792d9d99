using GptWsDaemon.Protocol;

namespace GptWsDaemon.Upstream;

/// <summary>Writes the JSON body sent to /chat/completions or /completions (protocol.md §4 <c>openai_parameter</c>).</summary>
public static class UpstreamRequestBody
{
    /// <summary>The path under the base URL for this request.</summary>
    public static string PathFor(ChatRequest request) => request.IsCompletions ? CompletionsPath : ChatPath;

    /// <summary>The chat endpoint under the base URL.</summary>
    public const string ChatPath = "/chat/completions";

    /// <summary>The legacy completions endpoint (gpt-3.5-turbo-instruct and the like).</summary>
    public const string CompletionsPath = "/completions";

    /// <summary>Serializes the body.</summary>
    public static byte[] Write(ChatRequest request)
    {
        var scratch = JsonScratch.ForThread;
        try
        {
            var w = scratch.Writer;
            w.WriteStartObject();
            w.WriteString("model"u8, request.UpstreamModel);
            if (request.IsCompletions)
            {
                w.WriteString("prompt"u8, request.Prompt);
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
                if (request.IsCompletions)
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
}
