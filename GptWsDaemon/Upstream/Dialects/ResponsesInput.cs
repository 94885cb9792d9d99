using System.Text.Json;
using GptWsDaemon.Protocol;

namespace GptWsDaemon.Upstream.Dialects;

/// <summary>
/// One chat message as Responses <c>input</c> items: a message (its parts as input_text / input_image / input_file,
/// an assistant's text as output_text), an assistant's tool calls as <c>function_call</c> items, a tool message as a
/// <c>function_call_output</c>.
/// </summary>
internal static class ResponsesInput
{
    public static void Write(Utf8JsonWriter w, ChatMessage m, string provider)
    {
        if (m.Role == "tool")
        {
            w.WriteStartObject();
            w.WriteString("type"u8, "function_call_output");
            w.WriteString("call_id"u8, m.ToolCallId);
            w.WriteString("output"u8, m.Content);
            w.WriteEndObject();
            return;
        }

        if (m.PartsJson is not null || m.Content.Length > 0 || m.ToolCallsJson is null)
        {
            w.WriteStartObject();
            w.WriteString("role"u8, m.Role);
            if (m.PartsJson is { } parts)
            {
                w.WriteStartArray("content"u8);
                using var doc = JsonDocument.Parse(parts);
                foreach (var part in doc.RootElement.EnumerateArray())
                {
                    WritePart(w, part, m.Role == "assistant", provider);
                }

                w.WriteEndArray();
            }
            else
            {
                w.WriteString("content"u8, m.Content);
            }

            w.WriteEndObject();
        }

        if (m.ToolCallsJson is { } calls)
        {
            using var doc = JsonDocument.Parse(calls);
            foreach (var call in doc.RootElement.EnumerateArray())
            {
                var fn = call.GetProperty("function");
                w.WriteStartObject();
                w.WriteString("type"u8, "function_call");
                w.WriteString("call_id"u8, call.GetProperty("id").GetString());
                w.WriteString("name"u8, fn.GetProperty("name").GetString());
                w.WriteString("arguments"u8, fn.TryGetProperty("arguments", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString() : "{}");
                w.WriteEndObject();
            }
        }
    }

    private static void WritePart(Utf8JsonWriter w, JsonElement part, bool assistant, string provider)
    {
        w.WriteStartObject();
        switch (part.GetProperty("type").GetString())
        {
            case "text":
                w.WriteString("type"u8, assistant ? "output_text" : "input_text");
                w.WriteString("text"u8, part.GetProperty("text").GetString());
                break;
            case "image_url":
                var image = part.GetProperty("image_url");
                w.WriteString("type"u8, "input_image");
                w.WriteString("image_url"u8, image.GetProperty("url").GetString());
                if (image.TryGetProperty("detail", out var detail) && detail.ValueKind == JsonValueKind.String)
                {
                    w.WriteString("detail"u8, detail.GetString());
                }

                break;
            case "file":
                w.WriteString("type"u8, "input_file");
                foreach (var field in part.GetProperty("file").EnumerateObject())
                {
                    field.WriteTo(w); // file_id, file_data, filename: the same names in both APIs
                }

                break;
            default:
                throw new UpstreamException(ErrorCodes.BadParameter, $"messages: a {part.GetProperty("type").GetString()} part cannot be sent to the Responses API of provider {provider}");
        }

        w.WriteEndObject();
    }
}
