using System.Text.Json;

namespace GptWsDaemon.Protocol;

/// <summary>The <c>data</c> object of a request frame (protocol.md §4), raw; <see cref="RequestParser"/> validates it. Valid only while the frame's document is.</summary>
internal sealed class RequestData
{
    /// <summary><c>query</c>.</summary>
    public JsonElement Query { get; private set; }

    /// <summary><c>messages</c>.</summary>
    public JsonElement Messages { get; private set; }

    /// <summary><c>model</c>.</summary>
    public JsonElement Model { get; private set; }

    /// <summary><c>origin_stream</c>.</summary>
    public JsonElement OriginStream { get; private set; }

    /// <summary><c>segment</c>.</summary>
    public JsonElement Segment { get; private set; }

    /// <summary><c>markdown</c>.</summary>
    public JsonElement Markdown { get; private set; }

    /// <summary><c>openai_parameter</c>.</summary>
    public JsonElement OpenAiParameter { get; private set; }

    /// <summary><c>temperature</c>.</summary>
    public JsonElement Temperature { get; private set; }

    /// <summary><c>max_tokens</c>.</summary>
    public JsonElement MaxTokens { get; private set; }

    /// <summary><c>top_p</c>.</summary>
    public JsonElement TopP { get; private set; }

    /// <summary><c>frequency_penalty</c>.</summary>
    public JsonElement FrequencyPenalty { get; private set; }

    /// <summary><c>presence_penalty</c>.</summary>
    public JsonElement PresencePenalty { get; private set; }

    /// <summary><c>best_of</c>.</summary>
    public JsonElement BestOf { get; private set; }

    /// <summary><c>stop</c>.</summary>
    public JsonElement Stop { get; private set; }

    /// <summary><c>reasoning_effort</c>.</summary>
    public JsonElement ReasoningEffort { get; private set; }

    /// <summary><c>reasoning</c>: relay the model's reasoning.</summary>
    public JsonElement Reasoning { get; private set; }

    /// <summary><c>extra_body</c>.</summary>
    public JsonElement ExtraBody { get; private set; }

    /// <summary><c>n</c>.</summary>
    public JsonElement N { get; private set; }

    /// <summary><c>resumable</c> (protocol.md §4.4 "Resumable streams").</summary>
    public JsonElement Resumable { get; private set; }

    /// <summary>The fields of <see cref="PassThroughFields"/> present, in order.</summary>
    public List<JsonProperty> PassThrough { get; } = [];

    /// <summary>Picks the known fields (names compared exactly; the last of duplicates wins; others ignored).</summary>
    public static RequestData From(JsonElement data)
    {
        var d = new RequestData();
        foreach (var field in data.EnumerateObject())
        {
            if (field.NameEquals("query"u8))
            {
                d.Query = field.Value;
            }
            else if (field.NameEquals("messages"u8))
            {
                d.Messages = field.Value;
            }
            else if (field.NameEquals("model"u8))
            {
                d.Model = field.Value;
            }
            else if (field.NameEquals("origin_stream"u8))
            {
                d.OriginStream = field.Value;
            }
            else if (field.NameEquals("segment"u8))
            {
                d.Segment = field.Value;
            }
            else if (field.NameEquals("markdown"u8))
            {
                d.Markdown = field.Value;
            }
            else if (field.NameEquals("openai_parameter"u8))
            {
                d.OpenAiParameter = field.Value;
            }
            else if (field.NameEquals("temperature"u8))
            {
                d.Temperature = field.Value;
            }
            else if (field.NameEquals("max_tokens"u8))
            {
                d.MaxTokens = field.Value;
            }
            else if (field.NameEquals("top_p"u8))
            {
                d.TopP = field.Value;
            }
            else if (field.NameEquals("frequency_penalty"u8))
            {
                d.FrequencyPenalty = field.Value;
            }
            else if (field.NameEquals("presence_penalty"u8))
            {
                d.PresencePenalty = field.Value;
            }
            else if (field.NameEquals("best_of"u8))
            {
                d.BestOf = field.Value;
            }
            else if (field.NameEquals("stop"u8))
            {
                d.Stop = field.Value;
            }
            else if (field.NameEquals("reasoning_effort"u8))
            {
                d.ReasoningEffort = field.Value;
            }
            else if (field.NameEquals("reasoning"u8))
            {
                d.Reasoning = field.Value;
            }
            else if (field.NameEquals("extra_body"u8))
            {
                d.ExtraBody = field.Value;
            }
            else if (field.NameEquals("n"u8))
            {
                d.N = field.Value;
            }
            else if (field.NameEquals("resumable"u8))
            {
                d.Resumable = field.Value;
            }
            else if (PassThroughFields.Kinds.ContainsKey(field.Name))
            {
                d.PassThrough.Add(field);
            }
        }

        return d;
    }
}
