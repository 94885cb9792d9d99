using System.Text.Json;
using System.Text.Json.Serialization;

namespace GptWsDaemon.Protocol;

/// <summary>The <c>data</c> object of a request frame (SPEC §4), raw; <see cref="RequestParser"/> validates it.</summary>
internal sealed class RequestData
{
    [JsonPropertyName("query")]
    public JsonElement Query { get; set; }

    [JsonPropertyName("messages")]
    public JsonElement Messages { get; set; }

    [JsonPropertyName("model")]
    public JsonElement Model { get; set; }

    [JsonPropertyName("origin_stream")]
    public JsonElement OriginStream { get; set; }

    [JsonPropertyName("segment")]
    public JsonElement Segment { get; set; }

    [JsonPropertyName("openai_parameter")]
    public JsonElement OpenAiParameter { get; set; }

    [JsonPropertyName("temperature")]
    public JsonElement Temperature { get; set; }

    [JsonPropertyName("max_tokens")]
    public JsonElement MaxTokens { get; set; }

    [JsonPropertyName("top_p")]
    public JsonElement TopP { get; set; }

    [JsonPropertyName("frequency_penalty")]
    public JsonElement FrequencyPenalty { get; set; }

    [JsonPropertyName("presence_penalty")]
    public JsonElement PresencePenalty { get; set; }

    [JsonPropertyName("best_of")]
    public JsonElement BestOf { get; set; }

    [JsonPropertyName("stop")]
    public JsonElement Stop { get; set; }
}
