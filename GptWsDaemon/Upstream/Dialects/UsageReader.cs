using System.Text.Json;
using GptWsDaemon.Protocol;

namespace GptWsDaemon.Upstream.Dialects;

/// <summary>OpenAI-style usage objects (<c>usage</c>, or under a vendor key such as <c>x_groq</c>).</summary>
internal static class UsageReader
{
    /// <summary>A usage object: prompt and completion tokens, cached and reasoning tokens when present.</summary>
    public static UsageInfo Read(ref Utf8JsonReader reader)
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
    public static UsageInfo? ReadVendor(ref Utf8JsonReader reader)
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
                usage = Read(ref reader);
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
}
