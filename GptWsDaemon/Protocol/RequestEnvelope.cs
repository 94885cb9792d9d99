using System.Text.Json;

namespace GptWsDaemon.Protocol;

/// <summary>
/// A client frame as it arrives; every field kept as raw JSON so that types are checked with clear messages. The
/// elements point into the frame's document: valid only while <see cref="RequestParser"/> parses it.
/// </summary>
internal sealed class RequestEnvelope
{
    /// <summary>The client's seq: string or number.</summary>
    public JsonElement Seq { get; private set; }

    /// <summary>"cancel" or "ping"; absent for a chat request.</summary>
    public JsonElement Action { get; private set; }

    /// <summary><c>stream_id</c> of a resume.</summary>
    public JsonElement StreamId { get; private set; }

    /// <summary><c>after</c> of a resume: the last <c>n</c> the client has.</summary>
    public JsonElement After { get; private set; }

    /// <summary>The <c>data</c> value as sent (any kind; Undefined when absent).</summary>
    public JsonElement DataValue { get; private set; }

    /// <summary>The request parameters, when <c>data</c> is an object.</summary>
    public RequestData? Data { get; private set; }

    /// <summary>Picks the known fields of a frame's root object (names compared exactly; the last of duplicates wins; others ignored).</summary>
    public static RequestEnvelope From(JsonElement root)
    {
        var envelope = new RequestEnvelope();
        foreach (var field in root.EnumerateObject())
        {
            if (field.NameEquals("seq"u8))
            {
                envelope.Seq = field.Value;
            }
            else if (field.NameEquals("action"u8))
            {
                envelope.Action = field.Value;
            }
            else if (field.NameEquals("data"u8))
            {
                envelope.DataValue = field.Value;
            }
            else if (field.NameEquals("stream_id"u8))
            {
                envelope.StreamId = field.Value;
            }
            else if (field.NameEquals("after"u8))
            {
                envelope.After = field.Value;
            }
        }

        envelope.Data = envelope.DataValue.ValueKind == JsonValueKind.Object ? RequestData.From(envelope.DataValue) : null;
        return envelope;
    }
}
