using System.Text;
using System.Text.Json;

namespace GptWsDaemon.Protocol;

/// <summary>
/// Reads and checks <c>messages</c> (protocol.md §4.1 "Messages"): roles system, developer, user, assistant, tool;
/// content a string or an array of parts (text, image_url, input_audio, file) checked for shape and kept as sent; an
/// assistant's <c>tool_calls</c> and a tool message's <c>tool_call_id</c>. A bad entry throws 1003 naming it.
/// </summary>
internal static class MessageFields
{
    private const string Roles = "system, developer, user, assistant or tool";

    public static List<ChatMessage> Read(JsonElement element)
    {
        var list = new List<ChatMessage>();
        if (element.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
        {
            return list;
        }

        if (element.ValueKind != JsonValueKind.Array)
        {
            throw Bad("messages: must be an array of {role, content}");
        }

        var i = 0;
        foreach (var item in element.EnumerateArray())
        {
            list.Add(ReadOne(item, $"messages[{i++}]"));
        }

        return list;
    }

    private static ChatMessage ReadOne(JsonElement item, string at)
    {
        if (item.ValueKind != JsonValueKind.Object || !item.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String)
        {
            throw Bad($"{at}: must be an object with a string role and a content");
        }

        var roleName = role.GetString()!;
        if (roleName is not ("system" or "developer" or "user" or "assistant" or "tool"))
        {
            throw Bad($"{at}.role: must be {Roles}, not \"{RequestFields.Trim(roleName)}\"");
        }

        var toolCalls = item.TryGetProperty("tool_calls", out var calls) && calls.ValueKind != JsonValueKind.Null ? calls : default;
        if (toolCalls.ValueKind != JsonValueKind.Undefined)
        {
            if (roleName != "assistant")
            {
                throw Bad($"{at}.tool_calls: only an assistant message has tool calls");
            }

            CheckToolCalls(toolCalls, at + ".tool_calls");
        }

        string? toolCallId = null;
        if (roleName == "tool")
        {
            toolCallId = item.TryGetProperty("tool_call_id", out var id) && id.ValueKind == JsonValueKind.String && id.GetString() is { Length: > 0 } s
                ? s
                : throw Bad($"{at}.tool_call_id: a tool message needs the id of the call it answers");
        }

        var name = item.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
        item.TryGetProperty("content", out var content);
        switch (content.ValueKind)
        {
            case JsonValueKind.String:
                return new ChatMessage(roleName, content.GetString()!) { ToolCallsJson = Raw(toolCalls), ToolCallId = toolCallId, Name = name };
            case JsonValueKind.Array when roleName is not "tool":
                return new ChatMessage(roleName, CheckParts(content, at + ".content")) { PartsJson = content.GetRawText(), ToolCallsJson = Raw(toolCalls), Name = name };
            case JsonValueKind.Undefined or JsonValueKind.Null when toolCalls.ValueKind != JsonValueKind.Undefined:
                return new ChatMessage(roleName, string.Empty) { ToolCallsJson = Raw(toolCalls), Name = name };
            default:
                throw Bad($"{at}.content: must be a string{(roleName == "tool" ? string.Empty : " or an array of parts")}");
        }
    }

    /// <summary>Checks each part's shape; returns the text parts joined.</summary>
    private static string CheckParts(JsonElement parts, string at)
    {
        var text = new StringBuilder();
        var i = 0;
        foreach (var part in parts.EnumerateArray())
        {
            var here = $"{at}[{i++}]";
            if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
            {
                throw Bad($"{here}: must be an object with a string type");
            }

            switch (type.GetString())
            {
                case "text":
                    text.Append(part.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : throw Bad($"{here}.text: a text part needs a string text"));
                    break;
                case "image_url":
                    Need(part, "image_url", "url", here);
                    break;
                case "input_audio":
                    Need(part, "input_audio", "data", here);
                    Need(part, "input_audio", "format", here);
                    break;
                case "file":
                    if (!part.TryGetProperty("file", out var file) || file.ValueKind != JsonValueKind.Object)
                    {
                        throw Bad($"{here}.file: a file part needs a file object");
                    }

                    break;
                case var other:
                    throw Bad($"{here}.type: must be text, image_url, input_audio or file, not \"{RequestFields.Trim(other!)}\"");
            }
        }

        return i == 0 ? throw Bad($"{at}: an array of parts must not be empty") : text.ToString();
    }

    private static void Need(JsonElement part, string obj, string field, string at)
    {
        if (!part.TryGetProperty(obj, out var o) || o.ValueKind != JsonValueKind.Object || !o.TryGetProperty(field, out var f) || f.ValueKind != JsonValueKind.String)
        {
            throw Bad($"{at}.{obj}.{field}: {(obj[0] is 'a' or 'e' or 'i' or 'o' or 'u' ? "an" : "a")} {obj} part needs a string {field}");
        }
    }

    private static void CheckToolCalls(JsonElement calls, string at)
    {
        if (calls.ValueKind != JsonValueKind.Array)
        {
            throw Bad($"{at}: must be an array");
        }

        var i = 0;
        foreach (var call in calls.EnumerateArray())
        {
            var here = $"{at}[{i++}]";
            if (call.ValueKind != JsonValueKind.Object || !call.TryGetProperty("id", out var id) || id.ValueKind != JsonValueKind.String
                || !call.TryGetProperty("function", out var fn) || fn.ValueKind != JsonValueKind.Object
                || !fn.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String)
            {
                throw Bad($"{here}: must be {{id, type: \"function\", function: {{name, arguments}}}}");
            }
        }
    }

    private static string? Raw(JsonElement element) => element.ValueKind == JsonValueKind.Undefined ? null : element.GetRawText();

    private static RequestFieldException Bad(string message) => new(ErrorCodes.MissingPrompt, message);
}
