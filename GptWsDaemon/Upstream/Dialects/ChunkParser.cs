using GptWsDaemon.Buffers;
using System.Buffers;
using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using GptWsDaemon.Protocol;

namespace GptWsDaemon.Upstream.Dialects;

/// <summary>
/// Picks the delta, finish_reason and usage out of one streamed chunk with <see cref="Utf8JsonReader"/>, without a DOM.
/// Tolerates what compatible providers send: <c>choices: []</c>, <c>usage: null</c>, unknown fields, an <c>error</c> object (thrown as <see cref="ReportedErrorException"/>).
/// </summary>
public static class ChunkParser
{
    /// <summary>Parses a chat.completion.chunk or text_completion chunk; the content gets an array of its own (never returned to the pool).</summary>
    /// <exception cref="UpstreamException">Malformed JSON (2005).</exception>
    /// <exception cref="ReportedErrorException">The event is an error object.</exception>
    public static UpstreamChunk Parse(ReadOnlySpan<byte> json) => Parse(json, new StreamState());

    /// <summary>Parses a chunk, unescaping its content into <paramref name="text"/> (rented from the shared pool and swapped for a bigger one when needed; the caller returns it).</summary>
    /// <exception cref="UpstreamException">Malformed JSON (2005).</exception>
    /// <exception cref="ReportedErrorException">The event is an error object.</exception>
    public static UpstreamChunk Parse(ReadOnlySpan<byte> json, ref char[]? text)
    {
        var state = new StreamState();
        state.Content = text;
        try
        {
            return Parse(json, state);
        }
        finally
        {
            text = state.Content;
        }
    }

    /// <summary>
    /// Parses a chunk, unescaping its content and reasoning into <paramref name="state"/>'s buffers (no string per
    /// token) and adding tool-call fragments to its assembler. The texts are valid until the next call.
    /// </summary>
    /// <exception cref="UpstreamException">Malformed JSON (2005).</exception>
    /// <exception cref="ReportedErrorException">The event is an error object.</exception>
    public static UpstreamChunk Parse(ReadOnlySpan<byte> json, StreamState state)
    {
        try
        {
            var reader = JsonText.OpenObject(json);

            var delta = default(Delta);
            string? finish = null;
            UsageInfo? usage = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("choices"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.StartArray)
                    {
                        ReadChoices(ref reader, ref delta, ref finish, state);
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
                else if (reader.ValueTextEquals("usage"u8))
                {
                    reader.Read();
                    usage = reader.TokenType == JsonTokenType.StartObject ? UsageReader.Read(ref reader) : SkipValue(ref reader);
                }
                else if (reader.ValueTextEquals("x_groq"u8))
                {
                    // Groq puts the usage under its own key.
                    reader.Read();
                    usage = UsageReader.ReadVendor(ref reader) ?? usage;
                }
                else if (reader.ValueTextEquals("error"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.Null)
                    {
                        // Some compatible providers put "error": null on every normal chunk: that is no error.
                        continue;
                    }

                    // Rare: read the whole object again for its message, code and type, wherever they sit.
                    throw new ReportedErrorException(UpstreamErrorBody.TryRead(json, out var body) ? body : default);
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            return new UpstreamChunk(delta.Content, finish, usage) { Reasoning = delta.Reasoning, Refusal = delta.Refusal };
        }
        catch (Exception e) when (JsonText.IsMalformed(e))
        {
            throw ChunkParser.Malformed(e);
        }
    }

    private static void ReadChoices(ref Utf8JsonReader reader, ref Delta delta, ref string? finish, StreamState state)
    {
        var first = true;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            // Only the first choice is relayed (n = 1); others are skipped whole.
            if (!first || reader.TokenType != JsonTokenType.StartObject)
            {
                reader.Skip();
                continue;
            }

            first = false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("delta"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.StartObject)
                    {
                        ReadDelta(ref reader, ref delta, state);
                    }
                    else
                    {
                        reader.Skip(); // Azure's content-filter chunks: no delta, or null
                    }
                }
                else if (reader.ValueTextEquals("text"u8))
                {
                    reader.Read();
                    delta.Content = ReadText(ref reader, ref state.Content);
                }
                else if (reader.ValueTextEquals("finish_reason"u8))
                {
                    reader.Read();
                    finish = reader.TokenType == JsonTokenType.String ? FinishReason(ref reader) : SkipString(ref reader);
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
        }
    }

    /// <summary>content, refusal (into the content buffer), reasoning_content or reasoning (into the reasoning buffer), tool_calls.</summary>
    private static void ReadDelta(ref Utf8JsonReader reader, ref Delta delta, StreamState state)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("content"u8))
            {
                reader.Read();
                var content = ReadText(ref reader, ref state.Content);
                if (!content.IsEmpty || delta.Content.IsEmpty)
                {
                    delta.Content = content;
                }
            }
            else if (reader.ValueTextEquals("refusal"u8))
            {
                reader.Read();
                var refusal = ReadText(ref reader, ref state.Content);
                if (!refusal.IsEmpty)
                {
                    delta.Content = refusal;
                    delta.Refusal = true;
                }
            }
            else if (reader.ValueTextEquals("reasoning_content"u8) || reader.ValueTextEquals("reasoning"u8))
            {
                reader.Read();
                var reasoning = ReadText(ref reader, ref state.Reasoning);
                if (!reasoning.IsEmpty)
                {
                    delta.Reasoning = reasoning;
                }
            }
            else if (reader.ValueTextEquals("tool_calls"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.StartArray)
                {
                    ToolCallFragments.Read(ref reader, state);
                }
                else
                {
                    reader.Skip();
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
    }

    private static UsageInfo? SkipValue(ref Utf8JsonReader reader)
    {
        reader.Skip();
        return null;
    }

    /// <summary>The usual reasons without a string per stream; anything else as sent.</summary>
    private static string? FinishReason(ref Utf8JsonReader reader) =>
        reader.ValueTextEquals("stop"u8) ? "stop" : reader.ValueTextEquals("length"u8) ? "length" : reader.GetString();

    private static string? SkipString(ref Utf8JsonReader reader)
    {
        reader.Skip();
        return null;
    }

    /// <summary>A string value unescaped into <paramref name="text"/> (<see cref="JsonText.Read"/>).</summary>
    internal static ReadOnlyMemory<char> ReadText(ref Utf8JsonReader reader, ref char[]? text) => JsonText.Read(ref reader, ref text);

    internal static UpstreamException Malformed(Exception? inner) =>
        new(ErrorCodes.UpstreamBroken, "upstream sent a malformed event", inner);

    /// <summary>What one delta carried.</summary>
    private struct Delta
    {
        public ReadOnlyMemory<char> Content;
        public ReadOnlyMemory<char> Reasoning;
        public bool Refusal;
    }
}
