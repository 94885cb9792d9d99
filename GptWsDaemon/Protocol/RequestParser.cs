using System.Text.Json;
using GptWsDaemon.Config;
using GptWsDaemon.Text;

namespace GptWsDaemon.Protocol;

/// <summary>Turns a client frame into a <see cref="ClientCommand"/>: pure, no I/O (protocol.md §4, §6).</summary>
public sealed class RequestParser
{
    private const string DefaultModel = "gpt-3.5-turbo";
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 32 };
    private static readonly Dictionary<string, Func<RequestSeq?, string, RequestEnvelope, long, ClientCommand>> Actions = new(StringComparer.Ordinal)
    {
        ["ping"] = (seq, _, _, _) => new ClientCommand.Ping(seq),
        ["cancel"] = (seq, seqError, _, _) => seq is null ? Invalid(ErrorCodes.MissingSeq, "cancel: " + seqError, null) : new ClientCommand.Cancel(seq),
        ["resume"] = (seq, seqError, envelope, receivedAt) => seq is null ? Invalid(ErrorCodes.MissingSeq, "resume: " + seqError, null) : Resume(seq, envelope, receivedAt),
    };

    private static readonly string ActionError = "action: must be " + string.Join(" or ", Actions.Keys.Order(StringComparer.Ordinal).Select(k => $"\"{k}\""));
    private readonly DaemonSettings _settings;

    /// <summary>Creates a parser bound to the daemon's limits and aliases.</summary>
    public RequestParser(DaemonSettings settings) => _settings = settings;

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
            return Invalid(ErrorCodes.BadFrame, "frame is not valid JSON: " + RequestFields.Trim(e.Message), null);
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
        if (action is not null)
        {
            // protocol.md §4.2, §4.3: one entry per action; anything else is refused, never ignored.
            return Actions.TryGetValue(action, out var command) ? command(seq, seqError, envelope, receivedAt) : Invalid(ErrorCodes.BadParameter, ActionError, seq);
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
        catch (RequestFieldException e)
        {
            return Invalid(e.Code, e.Message, seq);
        }
    }

    private ChatRequest BuildRequest(RequestSeq seq, RequestData data, long receivedAt)
    {
        var query = RequestFields.OptionalString(data.Query, "query") ?? string.Empty;
        var messages = MessageFields.Read(data.Messages);
        if (query.Length == 0 && messages.Count == 0)
        {
            throw new RequestFieldException(ErrorCodes.MissingPrompt, "data: query or messages must be given and not empty");
        }

        var model = RequestFields.OptionalString(data.Model, "model")?.Trim() ?? DefaultModel;
        if (model.Length == 0 || model.Length > 200)
        {
            model = model.Length == 0 ? DefaultModel : throw new RequestFieldException(ErrorCodes.BadParameter, "model: longer than 200 characters");
        }

        var upstreamModel = _settings.ModelAliases.TryGetValue(model, out var alias) ? alias : model;
        var stripMarkdown = RequestFields.OptionalString(data.Markdown, "markdown") switch
        {
            null or "keep" => false,
            "strip" => true,
            var other => throw new RequestFieldException(ErrorCodes.BadParameter, $"markdown: must be \"keep\" or \"strip\", not \"{RequestFields.Trim(other)}\""),
        };
        var segment = RequestFields.OptionalString(data.Segment, "segment") switch
        {
            null => _settings.Segment,
            "clause" => SegmentMode.Clause,
            "sentence" => SegmentMode.Sentence,
            "tts" => SegmentMode.Tts,
            var other => throw new RequestFieldException(ErrorCodes.BadParameter, $"segment: must be \"clause\", \"sentence\" or \"tts\", not \"{RequestFields.Trim(other)}\""),
        };

        var parameters = new SamplingParameters
        {
            Temperature = RequestFields.Number(data.Temperature, "temperature", 0, 2, 0),
            MaxTokens = RequestFields.Integer(data.MaxTokens, "max_tokens", 1, _settings.MaxTokens, 500),
            TopP = RequestFields.Number(data.TopP, "top_p", 0, 1, 1),
            FrequencyPenalty = RequestFields.Number(data.FrequencyPenalty, "frequency_penalty", -2, 2, 0),
            PresencePenalty = RequestFields.Number(data.PresencePenalty, "presence_penalty", -2, 2, 0),
            BestOf = RequestFields.Integer(data.BestOf, "best_of", 1, 20, 1),
            Stop = RequestFields.ReadStop(data.Stop),
            Explicit = Set(data.Temperature, SamplingField.Temperature) | Set(data.MaxTokens, SamplingField.MaxTokens) | Set(data.TopP, SamplingField.TopP)
                | Set(data.FrequencyPenalty, SamplingField.FrequencyPenalty) | Set(data.PresencePenalty, SamplingField.PresencePenalty)
                | Set(data.BestOf, SamplingField.BestOf) | Set(data.Stop, SamplingField.Stop),
        };

        if (!RequestFields.Bool(data.OpenAiParameter, "openai_parameter", true) && parameters.BestOf > 1 && (long)parameters.BestOf * parameters.MaxTokens > _settings.MaxTokens)
        {
            // best_of bills every candidate: 20 × 4000 would be 80,000 tokens for one answer.
            throw new RequestFieldException(ErrorCodes.BadParameter, FormattableString.Invariant($"best_of × max_tokens: {parameters.BestOf} × {parameters.MaxTokens} is over limits.max_tokens ({_settings.MaxTokens})"));
        }

        if (_settings.AllowedModels.Count > 0 && !_settings.AllowedModels.Any(p => Upstream.Providers.ModelPattern.Matches(p, upstreamModel)))
        {
            throw new RequestFieldException(ErrorCodes.BadParameter, $"model: \"{RequestFields.Trim(upstreamModel)}\" is not allowed here (allowed: {string.Join(", ", _settings.AllowedModels)})");
        }

        if (RequestFields.Integer(data.N, "n", 1, 1_000_000, 1) != 1)
        {
            throw new RequestFieldException(ErrorCodes.BadParameter, "n: must be 1 (one answer per seq; send several requests for several answers)");
        }

        var effort = RequestFields.OptionalString(data.ReasoningEffort, "reasoning_effort");
        if (effort is not (null or "none" or "minimal" or "low" or "medium" or "high" or "xhigh"))
        {
            throw new RequestFieldException(ErrorCodes.BadParameter, $"reasoning_effort: must be none, minimal, low, medium, high or xhigh, not \"{RequestFields.Trim(effort)}\"");
        }

        if (query.Length > 0)
        {
            // protocol.md §4: "with a chat model it becomes one user message"; a prompt-only model gets it alone (Query).
            messages.Add(new ChatMessage("user", query));
        }

        return new ChatRequest
        {
            Seq = seq, Model = model, UpstreamModel = upstreamModel, Messages = messages, Query = query,
            ReasoningEffort = effort, RelayReasoning = RequestFields.Bool(data.Reasoning, "reasoning", false),
            PassThrough = PassThroughFields.Read(data.PassThrough), ExtraBody = ReadExtraBody(data.ExtraBody),
            OriginStream = RequestFields.Bool(data.OriginStream, "origin_stream", true), Segment = segment, StripMarkdown = stripMarkdown,
            OpenAiParameter = RequestFields.Bool(data.OpenAiParameter, "openai_parameter", true), Parameters = parameters, ReceivedAt = receivedAt,
            Resumable = RequestFields.Bool(data.Resumable, "resumable", false),
        };
    }

    private static SamplingField Set(JsonElement element, SamplingField field) =>
        element.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null ? SamplingField.None : field;

    /// <summary>protocol.md §4.1 <c>extra_body</c>: an object, when the operator allows it, that sets nothing the daemon sets itself.</summary>
    private List<KeyValuePair<string, string>> ReadExtraBody(JsonElement element)
    {
        if (element.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
        {
            return [];
        }

        if (!_settings.AllowExtraBody)
        {
            throw new RequestFieldException(ErrorCodes.BadParameter, "extra_body: not allowed by this daemon (openai.allow_extra_body is false)");
        }

        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new RequestFieldException(ErrorCodes.BadParameter, "extra_body: must be an object");
        }

        var members = new List<KeyValuePair<string, string>>();
        foreach (var member in element.EnumerateObject())
        {
            if (ReservedBodyFields.Contains(member.Name) || PassThroughFields.Kinds.ContainsKey(member.Name))
            {
                throw new RequestFieldException(ErrorCodes.BadParameter, $"extra_body.{RequestFields.Trim(member.Name)}: set by the daemon or a request field of its own; extra_body adds provider switches only");
            }

            members.RemoveAll(m => m.Key == member.Name);
            members.Add(new(member.Name, member.Value.GetRawText()));
        }

        return members;
    }

    private static readonly HashSet<string> ReservedBodyFields = new(StringComparer.Ordinal)
    {
        "model", "messages", "prompt", "input", "stream", "stream_options", "max_tokens", "max_completion_tokens", "max_output_tokens",
        "temperature", "top_p", "frequency_penalty", "presence_penalty", "best_of", "stop", "n", "reasoning_effort", "reasoning", "system",
    };

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


    /// <summary>protocol.md §4.5: <c>stream_id</c> as the daemon gave it, <c>after</c> a whole number (0: from the start).</summary>
    private static ClientCommand Resume(RequestSeq seq, RequestEnvelope envelope, long receivedAt)
    {
        var id = envelope.StreamId.ValueKind == JsonValueKind.String ? envelope.StreamId.GetString() : null;
        if (id is null || !Streams.StreamIds.IsValid(id))
        {
            return Invalid(ErrorCodes.BadParameter, "stream_id: must be the data.stream_id of a resumable stream's first frame", seq);
        }

        long after = 0;
        if (envelope.After.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null) && !(envelope.After.ValueKind == JsonValueKind.Number && envelope.After.TryGetInt64(out after) && after >= 0))
        {
            return Invalid(ErrorCodes.BadParameter, "after: must be a whole number ≥ 0 (the last data.n received)", seq);
        }

        return new ClientCommand.ResumeFrom(seq, id, after, receivedAt);
    }

    private static ClientCommand.Invalid Invalid(int code, string message, RequestSeq? seq) => new(code, message, seq);
}
