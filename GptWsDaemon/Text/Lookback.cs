namespace GptWsDaemon.Text;

/// <summary>The bounded looks around a candidate cut that the rules share: closers after it, the word or token before it.</summary>
internal static class Lookback
{
    private const int MaxCloserRun = 16;
    private const int MaxWordLookback = 64;
    private const int MaxTokenLookback = 256;
    private const int MaxFrontedWords = 2;

    public static ScanVerdict SkipClosers(ReadOnlySpan<char> text, int from, bool isFinal, out int end)
    {
        var k = from;
        var count = 0;
        while (k < text.Length && count < MaxCloserRun)
        {
            var ch = text[k];
            if (CharClass.IsAmbiguousCloser(ch))
            {
                if (k + 1 >= text.Length)
                {
                    end = k;
                    if (!isFinal)
                    {
                        return ScanVerdict.NeedMore;
                    }

                    k++;
                    break;
                }

                // A quote or asterisk glued to a following word opens something ("Jr.'s", ".*Note*").
                var after = text[k + 1];
                if (char.IsLetterOrDigit(after) && !CharClass.IsCjk(after))
                {
                    break;
                }
            }
            else if (!CharClass.IsCloser(ch))
            {
                break;
            }

            k++;
            count++;
        }

        end = k;
        return k >= text.Length && !isFinal ? ScanVerdict.NeedMore : ScanVerdict.NotCandidate;
    }

    public static ScanVerdict CutAfterSpace(ReadOnlySpan<char> text, int from, bool isFinal, out int value)
    {
        var w = from;
        while (w < text.Length && CharClass.IsWhite(text[w]))
        {
            w++;
        }

        value = w;
        return w >= text.Length && !isFinal ? ScanVerdict.NeedMore : ScanVerdict.Boundary;
    }

    public static bool PreviousWordCapitalized(ReadOnlySpan<char> text, int start)
    {
        var k = start;
        while (k > 0 && CharClass.IsWhite(text[k - 1]))
        {
            k--;
        }

        var end = k;
        while (k > 0 && !CharClass.IsWhite(text[k - 1]) && end - k < MaxWordLookback)
        {
            k--;
        }

        foreach (var c in text[k..end])
        {
            if (char.IsLetter(c))
            {
                return char.IsUpper(c);
            }
        }

        return false;
    }

    public static bool IsFronted(ReadOnlySpan<char> text, int start)
    {
        // "At 5 a.m. Mr. Smith went": a time phrase opening the sentence does not end it.
        var words = 0;
        var inWord = false;
        for (var k = 0; k < start; k++)
        {
            if (CharClass.IsWhite(text[k]))
            {
                inWord = false;
            }
            else if (!inWord)
            {
                inWord = true;
                if (++words > MaxFrontedWords)
                {
                    return false;
                }
            }
        }

        return true;
    }

    public static bool TokenLooksLikeUrl(ReadOnlySpan<char> text, int i)
    {
        var start = i;
        while (start > 0 && !CharClass.IsWhite(text[start - 1]) && !CharClass.IsCjk(text[start - 1]) && i - start < MaxTokenLookback)
        {
            start--;
        }

        var token = text[start..i];
        return token.Contains("://", StringComparison.Ordinal) || token.Contains('@')
            || token.StartsWith("www.", StringComparison.OrdinalIgnoreCase);
    }
}
