namespace GptWsDaemon.Upstream.Providers;

/// <summary>
/// A model name pattern of <c>[routes]</c> and <c>[model.PATTERN]</c>: <c>*</c> matches any run of characters, the
/// rest is compared exactly. Of several patterns that match, the most specific (most literal characters) wins.
/// </summary>
public static class ModelPattern
{
    /// <summary>How specific <paramref name="pattern"/> is: its literal characters.</summary>
    public static int Specificity(string pattern) => pattern.Length - pattern.Count(c => c == '*');

    /// <summary>Whether <paramref name="model"/> matches <paramref name="pattern"/> (ordinal, case-sensitive).</summary>
    public static bool Matches(string pattern, string model) => Glob(pattern.AsSpan(), model.AsSpan());

    private static bool Glob(ReadOnlySpan<char> pattern, ReadOnlySpan<char> text)
    {
        var star = pattern.IndexOf('*');
        if (star < 0)
        {
            return pattern.SequenceEqual(text);
        }

        if (!text.StartsWith(pattern[..star]))
        {
            return false;
        }

        var rest = pattern[(star + 1)..];
        for (var start = star; start <= text.Length; start++)
        {
            if (Glob(rest, text[start..]))
            {
                return true;
            }
        }

        return false;
    }
}
