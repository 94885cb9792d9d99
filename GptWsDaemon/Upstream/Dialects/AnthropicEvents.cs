using System.Text;
using System.Text.Json;
using GptWsDaemon.Protocol;

namespace GptWsDaemon.Upstream.Dialects;

/// <summary>
/// Reads one event of Anthropic's Messages stream with <see cref="Utf8JsonReader"/>: <c>message_start</c> (prompt
/// tokens), <c>content_block_delta</c> with a <c>text_delta</c> (text), <c>message_delta</c> (stop_reason, output
/// tokens), <c>message_stop</c> (the end), <c>error</c>; <c>ping</c>, block starts and stops, other delta types and
/// event types added later are skipped, as the API's versioning policy asks.
/// </summary>
internal static class AnthropicEvents
{
    public static EventVerdict Read(ReadOnlySpan<byte> json, StreamState state, out UpstreamChunk chunk)
    {
        chunk = default;
        if (json.IsEmpty)
        {
            return EventVerdict.Skip;
        }

        try
        {
            var reader = JsonText.OpenObject(json);

            var type = Type.Unknown;
            ReadOnlyMemory<char> content = default;
            string? stop = null;
            int input = -1, output = -1;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("type"u8))
                {
                    reader.Read();
                    type = TypeOf(ref reader);
                }
                else if (reader.ValueTextEquals("delta"u8))
                {
                    reader.Read();
                    ReadDelta(ref reader, ref content, ref stop, state);
                }
                else if (reader.ValueTextEquals("usage"u8))
                {
                    reader.Read();
                    ReadUsage(ref reader, ref input, ref output);
                }
                else if (reader.ValueTextEquals("message"u8))
                {
                    reader.Read();
                    ReadMessage(ref reader, ref input, ref output);
                }
                else if (reader.ValueTextEquals("error"u8))
                {
                    // Rare: read the whole object again for its message and type.
                    throw new ReportedErrorException(UpstreamErrorBody.TryRead(json, out var body) ? body : default);
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            switch (type)
            {
                case Type.MessageStart:
                    state.PromptTokens = Math.Max(0, input);
                    return EventVerdict.Skip;
                case Type.BlockDelta when !content.IsEmpty:
                    chunk = new UpstreamChunk(content, null, null);
                    return EventVerdict.Chunk;
                case Type.MessageDelta:
                    var finish = stop switch { null => null, "max_tokens" or "model_context_window_exceeded" => "length", _ => "stop" };
                    var usage = output >= 0 ? new UsageInfo(Math.Max(state.PromptTokens, input), output) : (UsageInfo?)null;
                    chunk = new UpstreamChunk(default, finish, usage);
                    return finish is null && usage is null ? EventVerdict.Skip : EventVerdict.Chunk;
                case Type.MessageStop:
                    return EventVerdict.End;
                case Type.Error:
                    throw new ReportedErrorException(default(UpstreamErrorBody));
                default:
                    return EventVerdict.Skip;
            }
        }
        catch (Exception e) when (JsonText.IsMalformed(e))
        {
            throw ChunkParser.Malformed(e);
        }
    }

    private enum Type
    {
        Unknown,
        MessageStart,
        BlockDelta,
        MessageDelta,
        MessageStop,
        Error,
    }

    private static Type TypeOf(ref Utf8JsonReader reader) =>
        reader.TokenType != JsonTokenType.String ? Type.Unknown
        : reader.ValueTextEquals("content_block_delta"u8) ? Type.BlockDelta
        : reader.ValueTextEquals("message_delta"u8) ? Type.MessageDelta
        : reader.ValueTextEquals("message_start"u8) ? Type.MessageStart
        : reader.ValueTextEquals("message_stop"u8) ? Type.MessageStop
        : reader.ValueTextEquals("error"u8) ? Type.Error
        : Type.Unknown;

    /// <summary>A content_block_delta's or message_delta's delta: text of a text_delta, a stop_reason.</summary>
    private static void ReadDelta(ref Utf8JsonReader reader, ref ReadOnlyMemory<char> content, ref string? stop, StreamState state)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return;
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("text"u8))
            {
                // Only a text_delta has "text" (thinking_delta has "thinking", input_json_delta "partial_json").
                reader.Read();
                content = ChunkParser.ReadText(ref reader, ref state.Content);
            }
            else if (reader.ValueTextEquals("stop_reason"u8))
            {
                reader.Read();
                stop = reader.TokenType != JsonTokenType.String ? null
                    : reader.ValueTextEquals("end_turn"u8) ? "end_turn"
                    : reader.ValueTextEquals("max_tokens"u8) ? "max_tokens"
                    : reader.GetString();
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
    }

    private static void ReadMessage(ref Utf8JsonReader reader, ref int input, ref int output)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return;
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var usage = reader.ValueTextEquals("usage"u8);
            reader.Read();
            if (usage)
            {
                ReadUsage(ref reader, ref input, ref output);
            }
            else
            {
                reader.Skip();
            }
        }
    }

    /// <summary>input_tokens plus the cached ones (all of them are the prompt), output_tokens; absent ones stay -1.</summary>
    private static void ReadUsage(ref Utf8JsonReader reader, ref int input, ref int output)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return;
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isInput = reader.ValueTextEquals("input_tokens"u8) || reader.ValueTextEquals("cache_creation_input_tokens"u8) || reader.ValueTextEquals("cache_read_input_tokens"u8);
            var isOutput = reader.ValueTextEquals("output_tokens"u8);
            reader.Read();
            if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var n) && (isInput || isOutput))
            {
                if (isInput)
                {
                    input = Math.Max(input, 0) + n;
                }
                else
                {
                    output = n;
                }
            }
            else
            {
                reader.Skip();
            }
        }
    }
}
