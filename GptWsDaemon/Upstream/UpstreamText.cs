using System.Net;
using System.Text;

namespace GptWsDaemon.Upstream;

/// <summary>
/// Makes upstream text fit for an error frame and a log line: an HTML page becomes its title, control characters and
/// runs of white space become one space, and the result is cut to <see cref="MaxChars"/>. Pure; secrets are
/// <see cref="UpstreamFailures"/>' business.
/// </summary>
public static class UpstreamText
{
    /// <summary>Longest upstream text kept in a message.</summary>
    public const int MaxChars = 300;

    /// <summary>Marks text that was cut.</summary>
    public const char CutMark = '…';

    /// <summary>What an HTML page without a title becomes.</summary>
    public const string UntitledHtml = "HTML error page";

    /// <summary>An HTML page reduced to its title; control characters and white space runs as one space, trimmed.</summary>
    public static string Reduce(string text)
    {
        if (LooksLikeHtml(text))
        {
            text = TitleOf(text) is { Length: > 0 } title ? WebUtility.HtmlDecode(title) : UntitledHtml;
        }

        var sb = new StringBuilder(Math.Min(text.Length, 4 * MaxChars));
        var space = false;
        foreach (var c in text)
        {
            if (char.IsControl(c) || char.IsWhiteSpace(c) || c is '\u2028' or '\u2029' or '\u200E' or '\u200F' || c is >= '\u202A' and <= '\u202E' || c is >= '\u2066' and <= '\u2069')
            {
                space = sb.Length > 0;
                continue;
            }

            if (space)
            {
                sb.Append(' ');
                space = false;
            }

            sb.Append(c);
        }

        return sb.ToString();
    }

    /// <summary>At most <see cref="MaxChars"/> characters, the last one <see cref="CutMark"/> when cut; never half a surrogate pair.</summary>
    public static string Cap(string text)
    {
        if (text.Length <= MaxChars)
        {
            return text;
        }

        var keep = MaxChars - 1;
        if (char.IsHighSurrogate(text[keep - 1]))
        {
            keep--;
        }

        return string.Concat(text.AsSpan(0, keep), [CutMark]);
    }

    private static bool LooksLikeHtml(string text)
    {
        var head = text.AsSpan().TrimStart();
        head = head[..Math.Min(head.Length, 512)];
        return head.StartsWith('<') && (head.Contains("<html", StringComparison.OrdinalIgnoreCase)
            || head.StartsWith("<!doctype", StringComparison.OrdinalIgnoreCase)
            || head.Contains("<head", StringComparison.OrdinalIgnoreCase)
            || head.Contains("<title", StringComparison.OrdinalIgnoreCase)
            || head.Contains("<body", StringComparison.OrdinalIgnoreCase));
    }

    private static string? TitleOf(string html)
    {
        var open = html.IndexOf("<title", StringComparison.OrdinalIgnoreCase);
        if (open < 0)
        {
            return null;
        }

        var start = html.IndexOf('>', open);
        var end = start < 0 ? -1 : html.IndexOf("</title", start, StringComparison.OrdinalIgnoreCase);
        return end < 0 ? null : html[(start + 1)..end].Trim();
    }
}
