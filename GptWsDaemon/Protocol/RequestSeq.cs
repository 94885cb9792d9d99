using System.Text;

namespace GptWsDaemon.Protocol;

/// <summary>A client's seq: its text (the key of the stream) and its JSON form, encoded once and echoed in every frame.</summary>
public sealed class RequestSeq : IEquatable<RequestSeq>
{
    private RequestSeq(string text, byte[] json)
    {
        Text = text;
        Json = json;
    }

    /// <summary>The seq as text (a number's JSON text for numbers).</summary>
    public string Text { get; }

    /// <summary>The JSON value to echo: a string, or the same number text the client sent.</summary>
    public byte[] Json { get; }

    /// <summary>Creates a string seq.</summary>
    public static RequestSeq FromString(string text)
    {
        var scratch = JsonScratch.ForThread;
        try
        {
            scratch.Writer.WriteStringValue(text);
            return new RequestSeq(text, scratch.ToArray());
        }
        finally
        {
            scratch.Reset();
        }
    }

    /// <summary>Creates a number seq from its raw JSON text.</summary>
    public static RequestSeq FromNumber(ReadOnlySpan<byte> rawJson) => new(Encoding.UTF8.GetString(rawJson), rawJson.ToArray());

    /// <inheritdoc/>
    public bool Equals(RequestSeq? other) => other is not null && Text == other.Text;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as RequestSeq);

    /// <inheritdoc/>
    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Text);

    /// <summary>The seq as it may appear in a log line: control characters escaped, long ones cut (<see cref="Observability.LogText"/>).</summary>
    public override string ToString() => Observability.LogText.Client(Text);
}
