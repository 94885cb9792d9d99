namespace GptWsDaemon.Text;

/// <summary>Where a clause ends (segment = clause): at ，、；： and at ,;: before a space, never inside a number or a URL. Pure.</summary>
internal static class ClauseRule
{
    /// <summary>Decides a clause mark at <paramref name="i"/> (，、；： or ,;: before a space), outside a book title.</summary>
    public static ScanVerdict Evaluate(ReadOnlySpan<char> text, int i, char c, bool isFinal, out int value)
    {
        value = i + 1;

        var len = text.Length;
        if (CharClass.IsFullWidthClause(c))
        {
            if (c is '，' or '：' && i > 0 && char.IsDigit(text[i - 1]))
            {
                // "1，000" and "3：30" are numbers, not clauses.
                if (i + 1 >= len && !isFinal)
                {
                    value = i;
                    return ScanVerdict.NeedMore;
                }

                if (i + 1 < len && char.IsDigit(text[i + 1]))
                {
                    return ScanVerdict.NoBoundary;
                }
            }

            if (Lookback.SkipClosers(text, i + 1, isFinal, out var closedFull) == ScanVerdict.NeedMore)
            {
                value = i;
                return ScanVerdict.NeedMore;
            }

            return Lookback.CutAfterSpace(text, closedFull, isFinal, out value);
        }

        if (Lookback.SkipClosers(text, i + 1, isFinal, out var closed) == ScanVerdict.NeedMore)
        {
            value = i;
            return ScanVerdict.NeedMore;
        }

        if (closed >= len)
        {
            value = len;
            return ScanVerdict.Boundary;
        }

        var next = text[closed];
        if (CharClass.IsWhite(next))
        {
            return Lookback.CutAfterSpace(text, closed, isFinal, out value);
        }

        if (CharClass.IsCjk(next) && !Lookback.TokenLooksLikeUrl(text, i))
        {
            value = closed;
            return ScanVerdict.Boundary;
        }

        // "1,000", "10:30", "https://" go on.
        return ScanVerdict.NoBoundary;
    }
}
