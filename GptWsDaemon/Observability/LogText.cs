using System.Text;

namespace GptWsDaemon.Observability;

/// <summary>
/// Makes a client-supplied value (seq, model, origin, path, user agent) safe to put in a log line: control characters
/// and line separators become <c>\uXXXX</c>, so a value can never start a forged line, and long values are cut with a
/// marker, so one client cannot write megabytes per line.
/// </summary>
public static class LogText
{
    /// <summary>Characters kept of a value by default.</summary>
    public const int DefaultMax = 120;

    /// <summary>The value escaped and cut to <paramref name="max"/> characters; <c>-</c> for null.</summary>
    public static string Client(string? value, int max = DefaultMax)
    {
        if (value is null)
        {
            return "-";
        }

        var cut = value.Length > max;
        var span = cut ? value.AsSpan(0, max) : value.AsSpan();
        if (!cut && span.IndexOfAnyInRange('\0', '\u001f') < 0 && !HasOtherBreaks(span))
        {
            return value; // the common case: nothing to escape, no copy
        }

        var sb = new StringBuilder(span.Length + 16);
        foreach (var c in span)
        {
            if (c < ' ' || c is '\u007f' or '\u0085' or '\u2028' or '\u2029' || (c >= '\u0080' && c <= '\u009f'))
            {
                sb.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
            }
            else
            {
                sb.Append(c);
            }
        }

        if (cut)
        {
            sb.Append("…(").Append(value.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)).Append(" chars)");
        }

        return sb.ToString();
    }

    private static bool HasOtherBreaks(ReadOnlySpan<char> span) =>
        span.IndexOfAnyInRange('\u007f', '\u009f') >= 0 || span.IndexOfAny('\u2028', '\u2029') >= 0;
}
