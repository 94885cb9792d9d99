using System.Text;
using System.Text.Json;
using GptWsDaemon.Protocol;

namespace GptWsDaemon.Upstream.Dialects;

/// <summary>
/// Reads one Responses API event: <c>response.output_text.delta</c> (content), <c>response.refusal.delta</c> (content,
/// a refusal), <c>response.reasoning_summary_text.delta</c> and <c>response.reasoning_text.delta</c> (reasoning),
/// <c>response.output_item.added</c> with a function_call and <c>response.function_call_arguments.delta</c> (tool
/// calls, by output_index), <c>response.completed</c> (stop + usage), <c>response.incomplete</c> (length when the
/// output cap was reached), <c>response.failed</c> and <c>error</c> (the error). Everything else is skipped.
/// </summary>
internal static class ResponsesEvents
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

            var type = Kind.Other;
            // Where "delta", "item" and "response" sit, as reader copies: what to do with them depends on the type, which may come after.
            Utf8JsonReader delta = default, item = default, response = default;
            bool hasDelta = false, hasItem = false, hasResponse = false;
            var index = 0;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("type"u8))
                {
                    reader.Read();
                    type = KindOf(ref reader);
                    continue;
                }

                var name = reader.ValueTextEquals("delta"u8) ? 1 : reader.ValueTextEquals("output_index"u8) ? 2 : reader.ValueTextEquals("item"u8) ? 3 : reader.ValueTextEquals("response"u8) ? 4 : 0;
                reader.Read();
                switch (name)
                {
                    case 1:
                        delta = reader;
                        hasDelta = true;
                        break;
                    case 2:
                        index = reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var i) ? i : 0;
                        break;
                    case 3:
                        item = reader;
                        hasItem = true;
                        break;
                    case 4:
                        response = reader;
                        hasResponse = true;
                        break;
                }

                reader.Skip();
            }

            switch (type)
            {
                case Kind.Text or Kind.Refusal when hasDelta:
                    var text = ChunkParser.ReadText(ref delta, ref state.Content);
                    chunk = new UpstreamChunk(text, null, null) { Refusal = type == Kind.Refusal };
                    return text.IsEmpty ? EventVerdict.Skip : EventVerdict.Chunk;
                case Kind.Reasoning when hasDelta:
                    chunk = new UpstreamChunk(default, null, null) { Reasoning = ChunkParser.ReadText(ref delta, ref state.Reasoning) };
                    return chunk.Reasoning.IsEmpty ? EventVerdict.Skip : EventVerdict.Chunk;
                case Kind.ItemAdded when hasItem:
                    AddCall(item, index, state);
                    return EventVerdict.Skip;
                case Kind.Arguments when hasDelta && delta.TokenType == JsonTokenType.String:
                    (state.ToolCalls ??= new ToolCallAssembler()).Add(index, null, null, delta.GetString());
                    return EventVerdict.Skip;
                case Kind.Completed or Kind.Incomplete:
                    var (usage, cutByCap) = hasResponse ? ReadResponse(response) : (null, false);
                    var finish = type == Kind.Incomplete && cutByCap ? "length" : "stop"; // "tool_calls" when calls came: the engine's
                    chunk = new UpstreamChunk(default, finish, usage);
                    return EventVerdict.Chunk;
                case Kind.Failed:
                    throw new ReportedErrorException(hasResponse ? ErrorOf(response) : default(UpstreamErrorBody));
                case Kind.Error:
                    throw new ReportedErrorException(UpstreamErrorBody.TryRead(json, out var body) ? body : default);
                default:
                    return EventVerdict.Skip;
            }
        }
        catch (Exception e) when (JsonText.IsMalformed(e))
        {
            throw ChunkParser.Malformed(e);
        }
    }

    private enum Kind
    {
        Other,
        Text,
        Refusal,
        Reasoning,
        ItemAdded,
        Arguments,
        Completed,
        Incomplete,
        Failed,
        Error,
    }

    private static Kind KindOf(ref Utf8JsonReader reader) =>
        reader.TokenType != JsonTokenType.String ? Kind.Other
        : reader.ValueTextEquals("response.output_text.delta"u8) ? Kind.Text
        : reader.ValueTextEquals("response.function_call_arguments.delta"u8) ? Kind.Arguments
        : reader.ValueTextEquals("response.reasoning_summary_text.delta"u8) || reader.ValueTextEquals("response.reasoning_text.delta"u8) ? Kind.Reasoning
        : reader.ValueTextEquals("response.refusal.delta"u8) ? Kind.Refusal
        : reader.ValueTextEquals("response.output_item.added"u8) ? Kind.ItemAdded
        : reader.ValueTextEquals("response.completed"u8) ? Kind.Completed
        : reader.ValueTextEquals("response.incomplete"u8) ? Kind.Incomplete
        : reader.ValueTextEquals("response.failed"u8) ? Kind.Failed
        : reader.ValueTextEquals("error"u8) ? Kind.Error
        : Kind.Other;

    /// <summary>An added output item that is a function call starts a tool call at its output_index.</summary>
    private static void AddCall(Utf8JsonReader reader, int index, StreamState state)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            return;
        }

        string? type = null, callId = null, name = null, arguments = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var field = reader.GetString();
            reader.Read();
            var value = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            reader.Skip();
            switch (field)
            {
                case "type": type = value; break;
                case "call_id": callId = value; break;
                case "name": name = value; break;
                case "arguments": arguments = value; break;
            }
        }

        if (type == "function_call")
        {
            (state.ToolCalls ??= new ToolCallAssembler()).Add(index, callId, name, arguments);
        }
    }

    /// <summary>A final response's usage, and whether it stopped at its output cap.</summary>
    private static (UsageInfo? Usage, bool CutByCap) ReadResponse(Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            return (null, false);
        }

        using var doc = JsonDocument.ParseValue(ref reader); // once per stream: a DOM is fine here
        var root = doc.RootElement;
        var cut = root.TryGetProperty("incomplete_details", out var details) && details.ValueKind == JsonValueKind.Object
            && details.TryGetProperty("reason", out var reason) && reason.ValueEquals("max_output_tokens");
        if (!root.TryGetProperty("usage", out var u) || u.ValueKind != JsonValueKind.Object)
        {
            return (null, cut);
        }

        static int? Number(JsonElement e, string name) => e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.TryGetInt32(out var n) ? n : null;
        var usage = new UsageInfo(Number(u, "input_tokens") ?? 0, Number(u, "output_tokens") ?? 0)
        {
            CachedTokens = u.TryGetProperty("input_tokens_details", out var input) ? Number(input, "cached_tokens") : null,
            ReasoningTokens = u.TryGetProperty("output_tokens_details", out var output) ? Number(output, "reasoning_tokens") : null,
        };
        return (usage, cut);
    }

    /// <summary>response.failed: <c>{"response": {"error": {"code", "message"}}}</c>.</summary>
    private static UpstreamErrorBody ErrorOf(Utf8JsonReader reader)
    {
        using var doc = JsonDocument.ParseValue(ref reader);
        return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object
            ? new UpstreamErrorBody(
                error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null,
                error.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null,
                null)
            : default;
    }
}
