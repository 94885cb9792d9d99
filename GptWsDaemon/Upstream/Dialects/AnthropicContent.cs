using System.Text.Json;
using GptWsDaemon.Protocol;

namespace GptWsDaemon.Upstream.Dialects;

/// <summary>
/// An array of content parts as Anthropic content blocks: text as text, an image by URL as a url image source, a
/// <c>data:</c> URL as a base64 one. Audio and files have no block here and are refused (1004), never dropped.
/// </summary>
internal static class AnthropicContent
{
    public static void Write(Utf8JsonWriter w, string parts, string provider)
    {
        using var doc = JsonDocument.Parse(parts);
        w.WriteStartArray("content"u8);
        foreach (var part in doc.RootElement.EnumerateArray())
        {
            w.WriteStartObject();
            switch (part.GetProperty("type").GetString())
            {
                case "text":
                    w.WriteString("type"u8, "text");
                    w.WriteString("text"u8, part.GetProperty("text").GetString());
                    break;
                case "image_url":
                    var url = part.GetProperty("image_url").GetProperty("url").GetString()!;
                    w.WriteString("type"u8, "image");
                    w.WriteStartObject("source"u8);
                    if (url.StartsWith("data:", StringComparison.Ordinal) && url.IndexOf(";base64,", StringComparison.Ordinal) is var comma and > 5)
                    {
                        w.WriteString("type"u8, "base64");
                        w.WriteString("media_type"u8, url[5..comma]);
                        w.WriteString("data"u8, url[(comma + ";base64,".Length)..]);
                    }
                    else
                    {
                        w.WriteString("type"u8, "url");
                        w.WriteString("url"u8, url);
                    }

                    w.WriteEndObject();
                    break;
                case var other:
                    throw new UpstreamException(ErrorCodes.BadParameter, $"messages: a {other} part is not supported by provider {provider} (kind anthropic)");
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
    }
}
