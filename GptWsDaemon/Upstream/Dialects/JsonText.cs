using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using GptWsDaemon.Buffers;

namespace GptWsDaemon.Upstream.Dialects;

/// <summary>JSON string values unescaped into a pooled buffer, no string per token: the buffer rules of every dialect, written once.</summary>
internal static class JsonText
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>A reader over one event's JSON, past the opening brace of its object; 2005 when it is not an object.</summary>
    public static Utf8JsonReader OpenObject(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 64 });
        return reader.Read() && reader.TokenType == JsonTokenType.StartObject ? reader : throw ChunkParser.Malformed(null);
    }

    /// <summary>What the reader throws for a malformed event: bad JSON, a value of another kind than read, invalid UTF-8.</summary>
    public static bool IsMalformed(Exception e) => e is JsonException or InvalidOperationException or DecoderFallbackException;

    /// <summary>A string value unescaped into <paramref name="text"/>; anything else (null, a number) is no text.</summary>
    public static ReadOnlyMemory<char> Read(ref Utf8JsonReader reader, ref char[]? text)
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
                    throw ChunkParser.Malformed(null);
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
}
