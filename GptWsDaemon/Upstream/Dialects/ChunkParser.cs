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
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 64 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw Malformed(null);
            }

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
                    usage = reader.TokenType == JsonTokenType.StartObject ? ReadUsage(ref reader) : SkipValue(ref reader);
                }
                else if (reader.ValueTextEquals("x_groq"u8))
                {
                    // Groq puts the usage under its own key.
                    reader.Read();
                    usage = ReadVendorUsage(ref reader) ?? usage;
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
                    ReadToolCalls(ref reader, state);
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

    /// <summary>Tool-call fragments: <c>[{index, id?, type?, function: {name?, arguments?}}]</c>.</summary>
    private static void ReadToolCalls(ref Utf8JsonReader reader, StreamState state)
    {
        var position = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                reader.Skip();
                continue;
            }

            int index = position++;
            string? id = null, name = null, arguments = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("index"u8))
                {
                    reader.Read();
                    index = reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var i) ? i : index;
                }
                else if (reader.ValueTextEquals("id"u8))
                {
                    reader.Read();
                    id = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                else if (reader.ValueTextEquals("function"u8))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.StartObject)
                    {
                        reader.Skip();
                        continue;
                    }

                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        var isName = reader.ValueTextEquals("name"u8);
                        var isArguments = reader.ValueTextEquals("arguments"u8);
                        reader.Read();
                        if (reader.TokenType == JsonTokenType.String && (isName || isArguments))
                        {
                            if (isName)
                            {
                                name = reader.GetString();
                            }
                            else
                            {
                                arguments = reader.GetString();
                            }
                        }
                        else
                        {
                            reader.Skip();
                        }
                    }
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            (state.ToolCalls ??= new ToolCallAssembler()).Add(index, id, name, arguments);
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
        int? reasoning = null, cached = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("prompt_tokens"u8))
            {
                reader.Read();
                prompt = Int(ref reader) ?? 0;
            }
            else if (reader.ValueTextEquals("completion_tokens"u8))
            {
                reader.Read();
                completion = Int(ref reader) ?? 0;
            }
            else if (reader.ValueTextEquals("completion_tokens_details"u8))
            {
                reader.Read();
                reasoning = Detail(ref reader, "reasoning_tokens"u8) ?? reasoning;
            }
            else if (reader.ValueTextEquals("prompt_tokens_details"u8))
            {
                reader.Read();
                cached = Detail(ref reader, "cached_tokens"u8) ?? cached;
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        return new UsageInfo(prompt, completion) { ReasoningTokens = reasoning, CachedTokens = cached };
    }

    /// <summary>A vendor object (<c>x_groq</c>) holding a usage object, or null.</summary>
    private static UsageInfo? ReadVendorUsage(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return null;
        }

        UsageInfo? usage = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isUsage = reader.ValueTextEquals("usage"u8);
            reader.Read();
            if (isUsage && reader.TokenType == JsonTokenType.StartObject)
            {
                usage = ReadUsage(ref reader);
            }
            else
            {
                reader.Skip();
            }
        }

        return usage;
    }

    /// <summary>One number of a details object (<c>{"reasoning_tokens": 12, …}</c>), or null.</summary>
    private static int? Detail(ref Utf8JsonReader reader, ReadOnlySpan<byte> name)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return null;
        }

        int? value = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var wanted = reader.ValueTextEquals(name);
            reader.Read();
            if (wanted)
            {
                value = Int(ref reader);
            }
            else
            {
                reader.Skip();
            }
        }

        return value;
    }

    private static int? Int(ref Utf8JsonReader reader) => reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var n) ? n : null;

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

    /// <summary>What one delta carried.</summary>
    private struct Delta
    {
        public ReadOnlyMemory<char> Content;
        public ReadOnlyMemory<char> Reasoning;
        public bool Refusal;
    }
}
