using System.Text.Json;
using System.Text.Json.Serialization;

namespace GptWsDaemon.Protocol;

/// <summary>A client frame as it arrives; every field kept as raw JSON so that types are checked with clear messages.</summary>
internal sealed class RequestEnvelope
{
    /// <summary>The client's seq: string or number.</summary>
    [JsonPropertyName("seq")]
    public JsonElement Seq { get; set; }

    /// <summary>"cancel" or "ping"; absent for a chat request.</summary>
    [JsonPropertyName("action")]
    public JsonElement Action { get; set; }

    /// <summary>The request parameters.</summary>
    [JsonPropertyName("data")]
    public RequestData? Data { get; set; }
}
