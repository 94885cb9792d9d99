// Over 300 lines: a terminator run is decided in one pass over shared locals (run counts, closers, the next character).
namespace GptWsDaemon.Text;

/// <summary>
/// Where a sentence ends at a terminator: runs of 。！？… and their full-width or repeated forms, and ASCII .!? — never
/// after an abbreviation or an initial, inside a number, a URL or a spaced ellipsis that goes on, and only once the
/// closers after it (quotes, brackets) and the next character show that it ended. Pure: text in, verdict out.
/// </summary>
internal static class TerminatorRule
{
    private const int MaxRun = 64;
    private const int MaxWordLookback = 64;
    private const int MaxStarterLength = 12;

    /// <summary>Decides a terminator run starting at <paramref name="i"/> (。！？… or .!?), outside a book title.</summary>
    public static ScanVerdict Evaluate(ReadOnlySpan<char> text, int i, bool isFinal, IListMarkerProbe markers, out int value)
    {
        value = i + 1;

        var len = text.Length;
        int dots = 0, bangs = 0, ellipses = 0, cjk = 0;
        var spaced = false;
        var k = i;
        while (k - i < MaxRun)
        {
            if (k >= len)
            {
                if (!isFinal)
                {
                    value = i;
                    return ScanVerdict.NeedMore;
                }

                break;
            }

            var ch = text[k];
            if (ch == '.')
            {
                dots++;
            }
            else if (CharClass.IsBang(ch))
            {
                bangs++;
            }
            else if (ch == '…')
            {
                ellipses++;
            }
            else if (CharClass.IsCjkTerminator(ch))
            {
                cjk++;
            }
            else if (ch == ' ' && text[k - 1] == '.' && bangs + ellipses + cjk == 0)
            {
                // ". . ." — a spaced ellipsis is one run; decide only once the dot after the space is seen.
                if (k + 1 >= len)
                {
                    if (!isFinal)
                    {
                        value = i;
                        return ScanVerdict.NeedMore;
                    }

                    break;
                }

                if (text[k + 1] != '.')
                {
                    break;
                }

                spaced = true;
            }
            else
            {
                break;
            }

            k++;
        }

        var runEnd = k;
        if (Lookback.SkipClosers(text, runEnd, isFinal, out var closed) == ScanVerdict.NeedMore)
        {
            value = i;
            return ScanVerdict.NeedMore;
        }

        var prev = i > 0 ? text[i - 1] : ' ';

        // "word. . . ." is a period then an ellipsis (the period is glued to the word, a space follows it).
        var periodThenEllipsis = spaced && dots == 4 && !CharClass.IsWhite(prev) && text[i + 1] == ' ';
        var w = closed;
        var newline = false;
        while (w < len && CharClass.IsWhite(text[w]))
        {
            newline |= CharClass.IsNewline(text[w]);
            w++;
        }

        if (w >= len)
        {
            if (isFinal)
            {
                value = len;
                return ScanVerdict.Boundary;
            }

            // The white space may go on: the cut (after it) is at least here, or right after "word." in "word. . . .".
            value = periodThenEllipsis ? i + 2 : len;
            return ScanVerdict.NeedMore;
        }

        var hasSpace = w > closed;
        var x = text[w];
        value = w;
        if (newline)
        {
            return ScanVerdict.Boundary;
        }

        if (cjk > 0)
        {
            // A full-width point between digits is a decimal point ("３．１４").
            var isDecimal = runEnd - i == 1 && text[i] == '．' && char.IsDigit(prev) && !hasSpace && char.IsDigit(x);
            if (!isDecimal && closed > runEnd && DialogueRule.IsClosingQuote(text[closed - 1]) && !hasSpace && CharClass.IsCjk(x))
            {
                // GB/T 15834 (引号): in "“你好。”他说。" the attribution after the quote belongs to the same sentence.
                var attribution = DialogueRule.Attribution(text, w, isFinal);
                if (attribution != ScanVerdict.Boundary)
                {
                    value = attribution == ScanVerdict.NeedMore ? i : closed;
                    return attribution;
                }
            }

            value = isDecimal ? closed : w;
            return isDecimal ? ScanVerdict.NoBoundary : ScanVerdict.Boundary;
        }

        if (ellipses > 0 && bangs == 0 && dots == 0 && closed == runEnd && !hasSpace && DialogueRule.IsPause(text, i, x))
        {
            value = closed;
            return ScanVerdict.NoBoundary;
        }

        if (bangs > 0 || ellipses > 0 || (dots > 1 && !spaced))
        {
            return EvaluateBangOrEllipsis(text, i, prev, bangs, hasSpace, x, closed, w, out value);
        }

        if (spaced)
        {
            return EvaluateSpacedEllipsis(i, prev, periodThenEllipsis, dots, hasSpace, x, closed, w, out value);
        }

        if (!hasSpace)
        {
            // "3.14", "a.b", "Jr.'s" stay whole; only Chinese on both sides makes a bare period final.
            var chinese = CharClass.IsCjk(x) && CharClass.IsCjk(prev);
            value = chinese ? w : closed;
            return chinese ? ScanVerdict.Boundary : ScanVerdict.NoBoundary;
        }

        if (char.IsLower(x))
        {
            value = closed;
            return ScanVerdict.NoBoundary;
        }

        return EvaluatePeriodWord(text, i, closed, w, isFinal, markers, out value);
    }

    private static ScanVerdict EvaluateBangOrEllipsis(
        ReadOnlySpan<char> text, int i, char prev, int bangs, bool hasSpace, char x, int closed, int w, out int value)
    {
        value = closed;
        if (bangs == 0 && prev is '[' or '(' or '（' or '［')
        {
            // "[...]" marks an omission inside a quotation, never an end.
            return ScanVerdict.NoBoundary;
        }

        if (CharClass.IsCjk(prev) || (!hasSpace && CharClass.IsCjk(x)))
        {
            if (!hasSpace && Lookback.TokenLooksLikeUrl(text, i))
            {
                return ScanVerdict.NoBoundary;
            }

            value = w;
            return ScanVerdict.Boundary;
        }

        if (!hasSpace || char.IsLower(x))
        {
            // "Yahoo! in", "mean...see", "really ... well" go on.
            return ScanVerdict.NoBoundary;
        }

        value = w;
        return ScanVerdict.Boundary;
    }

    private static ScanVerdict EvaluateSpacedEllipsis(
        int i, char prev, bool periodThenEllipsis, int dots, bool hasSpace, char x, int closed, int w, out int value)
    {
        value = closed;
        if (!hasSpace || char.IsLower(x))
        {
            return ScanVerdict.NoBoundary;
        }

        if (periodThenEllipsis)
        {
            // "compounds. . . . The": the period ends the sentence, the ellipsis opens the next one.
            value = i + 2;
            return ScanVerdict.Boundary;
        }

        // A detached ". . ." is an omission mark ("the thing is . . . I didn't"); four dots end a sentence.
        if (CharClass.IsWhite(prev) && dots == 3)
        {
            return ScanVerdict.NoBoundary;
        }

        value = w;
        return ScanVerdict.Boundary;
    }

    private static ScanVerdict EvaluatePeriodWord(ReadOnlySpan<char> text, int i, int closed, int w, bool isFinal, IListMarkerProbe markers, out int value)
    {
        var start = i;
        while (start > 0 && !CharClass.IsWhite(text[start - 1]) && i - start < MaxWordLookback)
        {
            start--;
        }

        while (start < i && CharClass.IsOpener(text[start]))
        {
            start++;
        }

        var word = text[start..i];
        var x = text[w];
        value = closed;
        if (word.IsEmpty)
        {
            value = w;
            return ScanVerdict.Boundary;
        }

        if (Abbreviations.IsTitle(word) || (Abbreviations.IsNumberAbbreviation(word) && (char.IsDigit(x) || x is '#' or '(')))
        {
            return ScanVerdict.NoBoundary;
        }

        if (markers.EnsureMarker(text, isFinal) == ScanVerdict.NeedMore)
        {
            value = i;
            return ScanVerdict.NeedMore;
        }

        if (markers.MarkerDotIndex == i)
        {
            // "1. The first item": the period of a list number.
            return ScanVerdict.NoBoundary;
        }

        if (word.Length == 1 && char.IsUpper(word[0]))
        {
            // An initial ("Jonas E. Smith", "Albert I. Jones"), unless it is the pronoun ("you and I. Did").
            if (word[0] != 'I' || Lookback.PreviousWordCapitalized(text, start))
            {
                return ScanVerdict.NoBoundary;
            }

            value = w;
            return ScanVerdict.Boundary;
        }

        if (Abbreviations.IsTime(word) && !Lookback.IsFronted(text, start))
        {
            // "left at 6 P.M. Mr. Smith": a time closing a clause ends the sentence before a capital.
            value = w;
            return ScanVerdict.Boundary;
        }

        if (Abbreviations.IsTime(word) || Abbreviations.IsDottedAcronym(word))
        {
            return EvaluateStarter(text, i, closed, w, isFinal, out value);
        }

        value = w;
        return ScanVerdict.Boundary;
    }

    private static ScanVerdict EvaluateStarter(ReadOnlySpan<char> text, int i, int closed, int w, bool isFinal, out int value)
    {
        // "the U.S. How" ends, "the U.S. Government" does not: it depends on the next word.
        var j = w;
        while (j < text.Length && char.IsLetter(text[j]) && j - w <= MaxStarterLength)
        {
            j++;
        }

        if (j >= text.Length && !isFinal)
        {
            value = i;
            return ScanVerdict.NeedMore;
        }

        var ends = CharClass.IsCjk(text[w]) || Abbreviations.IsSentenceStarter(text[w..j]);
        value = ends ? w : closed;
        return ends ? ScanVerdict.Boundary : ScanVerdict.NoBoundary;
    }
}
