using System.Text.Json;

namespace GptWsDaemon.Upstream;

/// <summary>
/// What an upstream error body says, unsanitized: <see cref="UpstreamFailures"/> turns it into client text. Reads the
/// shapes providers send: OpenAI's <c>{"error":{"message","type","code"}}</c>, <c>{"error":"…"}</c>, Express-style
/// <c>{"error":"Not Found","message":"Cannot POST …"}</c>, and a bare <c>{"message":…,"code":…}</c>.
/// </summary>
/// <param name="Message">The error's message, or null when it has none.</param>
/// <param name="Code">The provider's <c>code</c> (a number as its digits), or null.</param>
/// <param name="Type">The provider's <c>type</c> inside the error object, or null.</param>
public readonly record struct UpstreamErrorBody(string? Message, string? Code, string? Type)
{
    /// <summary>The upstream's own code string for the client: <see cref="Code"/>, else <see cref="Type"/>.</summary>
    public string? UpstreamCode => Code ?? Type;

    /// <summary>Reads an error body; false when <paramref name="json"/> is not a JSON object with an error or a message.</summary>
    public static bool TryRead(ReadOnlySpan<byte> json, out UpstreamErrorBody body)
    {
        body = default;
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 64 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            var found = false;
            string? errorText = null, message = null, code = null, type = null, topMessage = null, topCode = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("error"u8))
                {
                    reader.Read();
                    found |= reader.TokenType != JsonTokenType.Null;
                    if (reader.TokenType == JsonTokenType.StartObject)
                    {
                        ReadErrorObject(ref reader, ref message, ref code, ref type);
                    }
                    else
                    {
                        errorText = ReadString(ref reader, numbers: false);
                    }
                }
                else if (reader.ValueTextEquals("message"u8))
                {
                    reader.Read();
                    topMessage = ReadString(ref reader, numbers: false);
                    found |= topMessage is not null;
                }
                else if (reader.ValueTextEquals("code"u8))
                {
                    reader.Read();
                    topCode = ReadString(ref reader, numbers: true);
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            if (!found || reader.TokenType != JsonTokenType.EndObject)
            {
                return false;
            }

            message ??= errorText is not null && topMessage is not null ? errorText + ": " + topMessage : errorText ?? topMessage;
            body = new UpstreamErrorBody(message, code ?? topCode, type);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false; // a string the reader cannot unescape
        }
    }

    private static void ReadErrorObject(ref Utf8JsonReader reader, ref string? message, ref string? code, ref string? type)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("message"u8))
            {
                reader.Read();
                message = ReadString(ref reader, numbers: false);
            }
            else if (reader.ValueTextEquals("code"u8))
            {
                reader.Read();
                code = ReadString(ref reader, numbers: true);
            }
            else if (reader.ValueTextEquals("type"u8))
            {
                reader.Read();
                type = ReadString(ref reader, numbers: false);
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
    }

    /// <summary>A string as it is, a number as its digits when <paramref name="numbers"/>; anything else skipped as no value.</summary>
    private static string? ReadString(ref Utf8JsonReader reader, bool numbers)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                var s = reader.GetString();
                return string.IsNullOrEmpty(s) ? null : s;
            case JsonTokenType.Number when numbers:
                return System.Text.Encoding.UTF8.GetString(reader.ValueSpan);
            default:
                reader.Skip();
                return null;
        }
    }
}
