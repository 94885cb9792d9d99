using System.Text.Json.Serialization;

namespace GptWsDaemon.Protocol;

/// <summary>Source-generated serializer metadata for client frames.</summary>
[JsonSourceGenerationOptions(MaxDepth = 32, AllowTrailingCommas = false, ReadCommentHandling = System.Text.Json.JsonCommentHandling.Disallow)]
[JsonSerializable(typeof(RequestEnvelope))]
internal sealed partial class ProtocolJsonContext : JsonSerializerContext;
