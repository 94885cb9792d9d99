using System.Text.Json;
using GptWsDaemon.Config;
using GptWsDaemon.Text;

namespace GptWsDaemon.Protocol;

/// <summary>Turns a client frame into a <see cref="ClientCommand"/>: pure, no I/O (protocol.md §4, §6).</summary>
public sealed class RequestParser
{
    private const string DefaultModel = "gpt-3.5-turbo";
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 32 };
    private readonly DaemonSettings _settings;

    /// <summary>Creates a parser bound to the daemon's limits and aliases.</summary>
    public RequestParser(DaemonSettings settings) => _settings = settings;

    /// <summary>True for models served by the legacy /completions endpoint.</summary>
    public static bool IsCompletionsModel(string model) =>
        model.StartsWith("text-", StringComparison.Ordinal) || model.EndsWith("-instruct", StringComparison.Ordinal)
        || model is "davinci-002" or "babbage-002";

    /// <summary>Parses one text frame (UTF-8 bytes); a copy is made, for callers without a buffer of their own.</summary>
    public ClientCommand Parse(ReadOnlySpan<byte> utf8, long receivedAt) => Parse(utf8.ToArray().AsMemory(), receivedAt);

    /// <summary>
    /// Parses one text frame (UTF-8 bytes, read in place and only until this returns). One <see cref="JsonDocument"/>
    /// over the frame, whose tables come from the array pool, serves every field: a serializer with a
    /// <see cref="JsonElement"/> per field made a document (and a copy of the bytes) per field present.
    /// </summary>
    public ClientCommand Parse(ReadOnlyMemory<byte> utf8, long receivedAt)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8, DocumentOptions);
        }
        catch (JsonException e)
        {
            return Invalid(ErrorCodes.BadFrame, "frame is not valid JSON: " + Trim(e.Message), null);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return Invalid(ErrorCodes.BadFrame, "frame is not a JSON object", null);
            }

            try
            {
                var envelope = RequestEnvelope.From(root);
                if (envelope.DataValue.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null or JsonValueKind.Object))
                {
                    // A wrong type for "data" is a parameter error, still answered on the frame's stream.
                    return Invalid(ErrorCodes.BadParameter, "data: must be an object", TryReadSeq(utf8.Span));
                }

                return Interpret(envelope, receivedAt);
            }
            catch (InvalidOperationException)
            {
                // Utf8JsonReader checks JSON syntax, not the text inside strings: invalid UTF-8 bytes or an unpaired
                // surrogate escape ("\ud800") only fail when a value is read, as InvalidOperationException. Without this
                // catch the exception left Parse and took the whole connection down (protocol.md §6: "a frame, never a dropped connection").
                return Invalid(ErrorCodes.BadFrame, "frame is not valid JSON text: a string holds invalid UTF-8 or an unpaired surrogate", TryReadSeq(utf8.Span));
            }
        }
    }

    private ClientCommand Interpret(RequestEnvelope envelope, long receivedAt)
    {
        var seq = ReadSeq(envelope.Seq, out var seqError);
        var action = envelope.Action.ValueKind switch
        {
            JsonValueKind.Undefined or JsonValueKind.Null => null,
            JsonValueKind.String => envelope.Action.GetString(),
            _ => "\0",
        };
        switch (action)
        {
            case "ping":
                return new ClientCommand.Ping(seq);
            case "cancel":
                return seq is null ? Invalid(ErrorCodes.MissingSeq, "cancel: " + seqError, null) : new ClientCommand.Cancel(seq);
            case null:
                break;
            default:
                return Invalid(ErrorCodes.BadParameter, "action: must be \"cancel\" or \"ping\"", seq);
        }

        if (seq is null)
        {
            return Invalid(ErrorCodes.MissingSeq, seqError, null);
        }

        if (envelope.Data is null)
        {
            return Invalid(ErrorCodes.MissingPrompt, "data: missing; it must hold query or messages", seq);
        }

        try
        {
            return new ClientCommand.Chat(BuildRequest(seq, envelope.Data, receivedAt));
        }
        catch (RequestException e)
        {
            return Invalid(e.Code, e.Message, seq);
        }
    }

    private ChatRequest BuildRequest(RequestSeq seq, RequestData data, long receivedAt)
    {
        var query = OptionalString(data.Query, "query") ?? string.Empty;
        var messages = ReadMessages(data.Messages);
        if (query.Length == 0 && messages.Count == 0)
        {
            throw new RequestException(ErrorCodes.MissingPrompt, "data: query or messages must be given and not empty");
        }

        var model = OptionalString(data.Model, "model")?.Trim() ?? DefaultModel;
        if (model.Length == 0 || model.Length > 200)
        {
            model = model.Length == 0 ? DefaultModel : throw new RequestException(ErrorCodes.BadParameter, "model: longer than 200 characters");
        }

        var upstreamModel = _settings.ModelAliases.TryGetValue(model, out var alias) ? alias : model;
        var completions = IsCompletionsModel(upstreamModel);
        var segment = OptionalString(data.Segment, "segment") switch
        {
            null => _settings.Segment,
            "clause" => SegmentMode.Clause,
            "sentence" => SegmentMode.Sentence,
            var other => throw new RequestException(ErrorCodes.BadParameter, $"segment: must be \"clause\" or \"sentence\", not \"{Trim(other)}\""),
        };

        var parameters = new SamplingParameters
        {
            Temperature = Number(data.Temperature, "temperature", 0, 2, 0),
            MaxTokens = Integer(data.MaxTokens, "max_tokens", 1, _settings.MaxTokens, 500),
            TopP = Number(data.TopP, "top_p", 0, 1, 1),
            FrequencyPenalty = Number(data.FrequencyPenalty, "frequency_penalty", -2, 2, 0),
            PresencePenalty = Number(data.PresencePenalty, "presence_penalty", -2, 2, 0),
            BestOf = Integer(data.BestOf, "best_of", 1, 20, 1),
            Stop = ReadStop(data.Stop),
        };

        if (completions)
        {
            return new ChatRequest
            {
                Seq = seq, Model = model, UpstreamModel = upstreamModel, IsCompletions = true,
                Prompt = query.Length > 0 ? query : FlattenToPrompt(messages),
                OriginStream = Bool(data.OriginStream, "origin_stream", true), Segment = segment,
                OpenAiParameter = Bool(data.OpenAiParameter, "openai_parameter", true), Parameters = parameters, ReceivedAt = receivedAt,
            };
        }

        if (query.Length > 0)
        {
            // protocol.md §4: "with a chat model it becomes one user message".
            messages.Add(new ChatMessage("user", query));
        }

        return new ChatRequest
        {
            Seq = seq, Model = model, UpstreamModel = upstreamModel, Messages = messages,
            OriginStream = Bool(data.OriginStream, "origin_stream", true), Segment = segment,
            OpenAiParameter = Bool(data.OpenAiParameter, "openai_parameter", true), Parameters = parameters, ReceivedAt = receivedAt,
        };
    }

    /// <summary>Chat history as a completions prompt in the original's "Human:/AI:" shape (its default stop is "Human:").</summary>
    private static string FlattenToPrompt(List<ChatMessage> messages)
    {
        var sb = new System.Text.StringBuilder();
        foreach (var m in messages)
        {
            sb.Append(m.Role switch { "user" => "Human: ", "assistant" => "AI: ", _ => string.Empty }).Append(m.Content).Append('\n');
        }

        return sb.Append("AI:").ToString();
    }

    private static List<ChatMessage> ReadMessages(JsonElement element)
    {
        var list = new List<ChatMessage>();
        if (element.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
        {
            return list;
        }

        if (element.ValueKind != JsonValueKind.Array)
        {
            throw new RequestException(ErrorCodes.MissingPrompt, "messages: must be an array of {role, content}");
        }

        var i = 0;
        foreach (var item in element.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Object
                || !item.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String
                || !item.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String)
            {
                throw new RequestException(ErrorCodes.MissingPrompt, $"messages[{i}]: must be an object with string role and content");
            }

            var roleName = role.GetString()!;
            if (roleName is not ("system" or "user" or "assistant" or "developer"))
            {
                throw new RequestException(ErrorCodes.MissingPrompt, $"messages[{i}].role: must be system, user or assistant, not \"{Trim(roleName)}\"");
            }

            list.Add(new ChatMessage(roleName, content.GetString()!));
            i++;
        }

        return list;
    }

    private static List<string> ReadStop(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Undefined or JsonValueKind.Null:
                return ["Human:"];
            case JsonValueKind.String:
                return [element.GetString()!];
            case JsonValueKind.Array when element.GetArrayLength() <= 4:
                var list = new List<string>();
                foreach (var s in element.EnumerateArray())
                {
                    if (s.ValueKind != JsonValueKind.String)
                    {
                        throw new RequestException(ErrorCodes.BadParameter, "stop: must be a string or an array of up to 4 strings");
                    }

                    list.Add(s.GetString()!);
                }

                return list;
            default:
                throw new RequestException(ErrorCodes.BadParameter, "stop: must be a string or an array of up to 4 strings");
        }
    }

    private static string? OptionalString(JsonElement element, string name) => element.ValueKind switch
    {
        JsonValueKind.Undefined or JsonValueKind.Null => null,
        JsonValueKind.String => element.GetString(),
        _ => throw new RequestException(ErrorCodes.BadParameter, $"{name}: must be a string"),
    };

    private static bool Bool(JsonElement element, string name, bool fallback) => element.ValueKind switch
    {
        JsonValueKind.Undefined or JsonValueKind.Null => fallback,
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw new RequestException(ErrorCodes.BadParameter, $"{name}: must be true or false"),
    };

    private static double Number(JsonElement element, string name, double min, double max, double fallback)
    {
        if (element.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
        {
            return fallback;
        }

        if (element.ValueKind != JsonValueKind.Number || !element.TryGetDouble(out var value) || !double.IsFinite(value) || value < min || value > max)
        {
            throw new RequestException(ErrorCodes.BadParameter, FormattableString.Invariant($"{name}: must be a number from {min} to {max}"));
        }

        return value;
    }

    private static int Integer(JsonElement element, string name, int min, int max, int fallback)
    {
        if (element.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
        {
            return fallback;
        }

        if (element.ValueKind != JsonValueKind.Number || !element.TryGetInt32(out var value) || value < min || value > max)
        {
            throw new RequestException(ErrorCodes.BadParameter, FormattableString.Invariant($"{name}: must be an integer from {min} to {max}"));
        }

        return value;
    }

    private static RequestSeq? ReadSeq(JsonElement element, out string error)
    {
        error = string.Empty;
        switch (element.ValueKind)
        {
            case JsonValueKind.String when element.GetString() is { Length: > 0 and <= 256 } s:
                return RequestSeq.FromString(s);
            case JsonValueKind.String when element.GetString()!.Length > 256:
                error = "seq: longer than 256 characters";
                return null;
            case JsonValueKind.Number when element.GetRawText() is { Length: <= 64 } raw:
                return RequestSeq.FromNumber(System.Text.Encoding.UTF8.GetBytes(raw));
            case JsonValueKind.Undefined or JsonValueKind.Null:
                error = "seq: missing; every request needs a seq string";
                return null;
            default:
                error = "seq: must be a non-empty string or a number";
                return null;
        }
    }

    /// <summary>Best effort: the seq of a frame whose other fields are wrong, so that the error still reaches its stream.</summary>
    private static RequestSeq? TryReadSeq(ReadOnlySpan<byte> utf8)
    {
        try
        {
            using var doc = JsonDocument.Parse(utf8.ToArray(), DocumentOptions);
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("seq", out var s) ? ReadSeq(s, out _) : null;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return null;
        }
    }

    private static string Trim(string text) => text.Length <= 80 ? text : string.Concat(text.AsSpan(0, 80), "…");

    private static ClientCommand.Invalid Invalid(int code, string message, RequestSeq? seq) => new(code, message, seq);

    /// <summary>A validation failure inside <see cref="BuildRequest"/>.</summary>
    private sealed class RequestException(int code, string message) : Exception(message)
    {
        public int Code { get; } = code;
    }
}
