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
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Parses a chat.completion.chunk or text_completion chunk; the content gets an array of its own (never returned to the pool).</summary>
    /// <exception cref="UpstreamException">Malformed JSON (2005).</exception>
    /// <exception cref="ReportedErrorException">The event is an error object.</exception>
    public static UpstreamChunk Parse(ReadOnlySpan<byte> json)
    {
        char[]? text = null;
        return Parse(json, ref text);
    }

    /// <summary>
    /// Parses a chunk, unescaping its content into <paramref name="text"/> (rented from the shared pool and swapped for a
    /// bigger one when needed; the caller returns it): no string per token. The content is valid until the next call.
    /// </summary>
    /// <exception cref="UpstreamException">Malformed JSON (2005).</exception>
    /// <exception cref="ReportedErrorException">The event is an error object.</exception>
    public static UpstreamChunk Parse(ReadOnlySpan<byte> json, ref char[]? text)
    {
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 64 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw Malformed(null);
            }

            ReadOnlyMemory<char> content = default;
            string? finish = null;
            UsageInfo? usage = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("choices"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.StartArray)
                    {
                        ReadChoices(ref reader, ref content, ref finish, ref text);
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
                else if (reader.ValueTextEquals("usage"u8))
                {
                    reader.Read();
                    usage = reader.TokenType == JsonTokenType.StartObject ? ReadUsage(ref reader) : SkipValue(ref reader);
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

            return new UpstreamChunk(content, finish, usage);
        }
        catch (JsonException e)
        {
            throw Malformed(e);
        }
        catch (InvalidOperationException e)
        {
            throw Malformed(e);
        }
        catch (DecoderFallbackException e)
        {
            throw Malformed(e);
        }
    }

    private static void ReadChoices(ref Utf8JsonReader reader, ref ReadOnlyMemory<char> content, ref string? finish, ref char[]? text)
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
                        ReadDelta(ref reader, ref content, ref text);
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
                else if (reader.ValueTextEquals("text"u8))
                {
                    reader.Read();
                    content = ReadText(ref reader, ref text);
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

    private static void ReadDelta(ref Utf8JsonReader reader, ref ReadOnlyMemory<char> content, ref char[]? text)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("content"u8))
            {
                reader.Read();
                content = ReadText(ref reader, ref text);
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
    }

    /// <summary>A string value unescaped into <paramref name="text"/>; anything else (null, a number) is no text.</summary>
    internal static ReadOnlyMemory<char> ReadText(ref Utf8JsonReader reader, ref char[]? text)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            reader.Skip();
            return default;
        }

        // Unescaped UTF-16 is never longer than the raw UTF-8 (escapes only shrink), so the raw length is enough room.
        var room = reader.HasValueSequence ? checked((int)reader.ValueSequence.Length) : reader.ValueSpan.Length;
        PooledBuffer.Grow(ref text, 0, Math.Max(room, 256));

        int length;
        try
        {
            length = reader.CopyString(text);
        }
        catch (InvalidOperationException) when (reader.ValueIsEscaped && !reader.HasValueSequence)
        {
            // A \u escape holding half a surrogate pair (a provider slicing by UTF-16 units) is valid JSON the reader refuses.
            length = UnescapeLoneSurrogates(reader.ValueSpan, text);
        }

        return text.AsMemory(0, length);
    }

    /// <summary>
    /// Unescapes a JSON string as <see cref="Utf8JsonReader.CopyString(Span{char})"/> would, but keeps a lone surrogate
    /// from a <c>\u</c> escape as it is (<see cref="SurrogateStitcher"/> pairs or replaces it). The reader has already
    /// checked the escapes' syntax; invalid UTF-8 between them is still malformed.
    /// </summary>
    private static int UnescapeLoneSurrogates(ReadOnlySpan<byte> raw, Span<char> destination)
    {
        var written = 0;
        while (true)
        {
            var backslash = raw.IndexOf((byte)'\\');
            var plain = backslash < 0 ? raw : raw[..backslash];
            written += StrictUtf8.GetChars(plain, destination[written..]);
            if (backslash < 0)
            {
                return written;
            }

            raw = raw[backslash..];
            if (raw[1] == (byte)'u')
            {
                if (!Utf8Parser.TryParse(raw.Slice(2, 4), out ushort unit, out var used, 'X') || used != 4)
                {
                    throw Malformed(null);
                }

                destination[written++] = (char)unit;
                raw = raw[6..];
                continue;
            }

            destination[written++] = raw[1] switch
            {
                (byte)'b' => '\b',
                (byte)'f' => '\f',
                (byte)'n' => '\n',
                (byte)'r' => '\r',
                (byte)'t' => '\t',
                var c => (char)c, // \" \\ \/
            };
            raw = raw[2..];
        }
    }

    private static UsageInfo ReadUsage(ref Utf8JsonReader reader)
    {
        int prompt = 0, completion = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("prompt_tokens"u8))
            {
                reader.Read();
                prompt = reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var p) ? p : 0;
            }
            else if (reader.ValueTextEquals("completion_tokens"u8))
            {
                reader.Read();
                completion = reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var c) ? c : 0;
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        return new UsageInfo(prompt, completion);
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

    internal static UpstreamException Malformed(Exception? inner) =>
        new(ErrorCodes.UpstreamBroken, "upstream sent a malformed event", inner);
}
