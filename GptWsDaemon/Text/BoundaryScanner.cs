namespace GptWsDaemon.Text;

/// <summary>
/// Finds where the current segment (the text since the last cut) ends. Pure and resumable: it remembers how far
/// it has decided, so feeding a longer version of the same text continues where it stopped. Every decision looks
/// only at the segment's text and a bounded lookahead, so any chunking of the input yields the same cuts.
/// A piece keeps the white space that follows it; a cut therefore lands just before the next non-blank character.
/// </summary>
internal sealed class BoundaryScanner
{
    private const int MaxRun = 64;
    private const int MaxCloserRun = 16;
    private const int MaxWordLookback = 64;
    private const int MaxTokenLookback = 256;
    private const int MaxStarterLength = 12;
    private const int MaxFrontedWords = 2;
    private const int BookTitleReach = 32;

    private readonly bool _clauses;
    private FenceTracker _fence;
    private FenceTracker _segmentFence;
    private int _pos;
    private bool _hasContent;
    private bool _inInlineCode;
    private int _bookDepth;
    private int _bookOpenedAt;
    private bool _markerKnown;
    private bool _hasMarker;
    private ListMarker _marker;

    /// <summary>Creates a scanner for the given granularity.</summary>
    public BoundaryScanner(SegmentMode mode) => _clauses = mode == SegmentMode.Clause;

    /// <summary>
    /// After <see cref="TryFindBoundary"/> returned false: the smallest cut index still possible once more text
    /// arrives (the segmenter forces a cut when this passes its size cap).
    /// </summary>
    public int EarliestCut { get; private set; }

    /// <summary>Forgets everything: the next text is the start of a new stream.</summary>
    public void Reset()
    {
        _fence = default;
        _segmentFence = default;
        ResetSegment();
    }

    /// <summary>Starts the next segment at <paramref name="cutIndex"/> of the current segment's text.</summary>
    /// <param name="text">The current segment's text (the same as given to <see cref="TryFindBoundary"/>).</param>
    /// <param name="cutIndex">Where the new segment starts; any index, also one before the scan position.</param>
    public void Restart(ReadOnlySpan<char> text, int cutIndex)
    {
        var from = _pos;
        if (cutIndex < _pos)
        {
            // A forced cut behind the scan position: replay the fence state from the segment start.
            _fence = _segmentFence;
            from = 0;
        }

        for (var k = from; k < cutIndex; k++)
        {
            _fence.Advance(text[k]);
        }

        _segmentFence = _fence;
        ResetSegment();
    }

    /// <summary>Looks for the first certain end of the segment.</summary>
    /// <param name="text">The segment's text so far, always starting at the segment start.</param>
    /// <param name="isFinal">True when no more text will come.</param>
    /// <param name="cutIndex">Index in <paramref name="text"/> where the piece ends (exclusive).</param>
    /// <returns>True when a boundary is certain; then call <see cref="Restart"/> before scanning again.</returns>
    public bool TryFindBoundary(ReadOnlySpan<char> text, bool isFinal, out int cutIndex)
    {
        while (_pos < text.Length)
        {
            var i = _pos;
            var c = text[i];
            var probe = _fence;
            probe.Advance(c);
            var verdict = ScanVerdict.NotCandidate;
            var value = i + 1;
            if (!probe.InFence)
            {
                verdict = Evaluate(text, i, c, isFinal, out value);
            }

            switch (verdict)
            {
                case ScanVerdict.Boundary when value > 0:
                    cutIndex = value;
                    return true;
                case ScanVerdict.NeedMore:
                    EarliestCut = value;
                    cutIndex = 0;
                    return false;
                case ScanVerdict.NoBoundary when value > i:
                    Consume(text, i, value);
                    break;
                default:
                    Consume(text, i, i + 1);
                    break;
            }
        }

        EarliestCut = text.Length;
        cutIndex = 0;
        return false;
    }

    private void ResetSegment()
    {
        _pos = 0;
        _hasContent = false;
        _inInlineCode = false;
        _bookDepth = 0;
        _bookOpenedAt = -1;
        _markerKnown = false;
        _hasMarker = false;
        _marker = default;
    }

    private void Consume(ReadOnlySpan<char> text, int from, int to)
    {
        for (var k = from; k < to; k++)
        {
            var c = text[k];
            var wasInFence = _fence.InFence;
            _fence.Advance(c);
            _hasContent |= !CharClass.IsWhite(c);
            if (_fence.InFence)
            {
                // Backticks that opened the fence must not leave an inline-code span open behind it.
                _inInlineCode &= wasInFence;
                continue;
            }

            if (CharClass.IsNewline(c))
            {
                _inInlineCode = false;
                _bookDepth = 0;
            }
            else if (c == '`')
            {
                _inInlineCode = !_inInlineCode;
            }
            else if (_inInlineCode)
            {
                continue;
            }
            else if (c is '《' or '〈')
            {
                if (_bookDepth++ == 0)
                {
                    _bookOpenedAt = k;
                }
            }
            else if (c is '》' or '〉' && _bookDepth > 0)
            {
                _bookDepth--;
            }
        }

        _pos = to;
    }

    private ScanVerdict Evaluate(ReadOnlySpan<char> text, int i, char c, bool isFinal, out int value)
    {
        value = i + 1;
        if (CharClass.IsNewline(c))
        {
            // Leading blank lines belong to the first piece rather than forming a blank piece.
            return _hasContent ? CutAfterSpace(text, i, isFinal, out value) : ScanVerdict.NoBoundary;
        }

        if (_inInlineCode)
        {
            return ScanVerdict.NotCandidate;
        }

        if (CharClass.IsTerminator(c))
        {
            return EvaluateTerminator(text, i, isFinal, out value);
        }

        if (_clauses && (CharClass.IsFullWidthClause(c) || CharClass.IsAsciiClause(c)))
        {
            return EvaluateClause(text, i, c, isFinal, out value);
        }

        if (_hasContent && i > 0 && CharClass.IsWhite(text[i - 1])
            && (CharClass.IsBullet(c) || CharClass.IsAsciiDigit(c) || CharClass.IsAsciiLetter(c)))
        {
            return EvaluateListItem(text, i, isFinal, out value);
        }

        return ScanVerdict.NotCandidate;
    }

    private ScanVerdict EvaluateTerminator(ReadOnlySpan<char> text, int i, bool isFinal, out int value)
    {
        value = i + 1;
        if (InBookTitle(i))
        {
            return ScanVerdict.NoBoundary;
        }

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
        if (SkipClosers(text, runEnd, isFinal, out var closed) == ScanVerdict.NeedMore)
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
            value = isDecimal ? closed : w;
            return isDecimal ? ScanVerdict.NoBoundary : ScanVerdict.Boundary;
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

        return EvaluatePeriodWord(text, i, closed, w, isFinal, out value);
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
            if (!hasSpace && TokenLooksLikeUrl(text, i))
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

    private ScanVerdict EvaluatePeriodWord(ReadOnlySpan<char> text, int i, int closed, int w, bool isFinal, out int value)
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

        if (EnsureMarker(text, isFinal) == ScanVerdict.NeedMore)
        {
            value = i;
            return ScanVerdict.NeedMore;
        }

        if (_hasMarker && _marker.DotIndex == i)
        {
            // "1. The first item": the period of a list number.
            return ScanVerdict.NoBoundary;
        }

        if (word.Length == 1 && char.IsUpper(word[0]))
        {
            // An initial ("Jonas E. Smith", "Albert I. Jones"), unless it is the pronoun ("you and I. Did").
            if (word[0] != 'I' || PreviousWordCapitalized(text, start))
            {
                return ScanVerdict.NoBoundary;
            }

            value = w;
            return ScanVerdict.Boundary;
        }

        if (Abbreviations.IsTime(word) && !IsFronted(text, start))
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

    private ScanVerdict EvaluateClause(ReadOnlySpan<char> text, int i, char c, bool isFinal, out int value)
    {
        value = i + 1;
        if (InBookTitle(i))
        {
            return ScanVerdict.NoBoundary;
        }

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

            if (SkipClosers(text, i + 1, isFinal, out var closedFull) == ScanVerdict.NeedMore)
            {
                value = i;
                return ScanVerdict.NeedMore;
            }

            return CutAfterSpace(text, closedFull, isFinal, out value);
        }

        if (SkipClosers(text, i + 1, isFinal, out var closed) == ScanVerdict.NeedMore)
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
            return CutAfterSpace(text, closed, isFinal, out value);
        }

        if (CharClass.IsCjk(next) && !TokenLooksLikeUrl(text, i))
        {
            value = closed;
            return ScanVerdict.Boundary;
        }

        // "1,000", "10:30", "https://" go on.
        return ScanVerdict.NoBoundary;
    }

    private ScanVerdict EvaluateListItem(ReadOnlySpan<char> text, int i, bool isFinal, out int value)
    {
        value = i;
        if (EnsureMarker(text, isFinal) == ScanVerdict.NeedMore)
        {
            return ScanVerdict.NeedMore;
        }

        if (!_hasMarker || i < _marker.End)
        {
            return ScanVerdict.NotCandidate;
        }

        if (!ListMarker.TryParse(text, i, isFinal, out var next, out var needMore))
        {
            return needMore ? ScanVerdict.NeedMore : ScanVerdict.NotCandidate;
        }

        if (!next.Follows(_marker))
        {
            return ScanVerdict.NotCandidate;
        }

        if (next.End >= text.Length)
        {
            return isFinal ? ScanVerdict.NotCandidate : ScanVerdict.NeedMore;
        }

        // "1.) The first item 2.) The second item": the next number in the same style opens the next item.
        return char.IsLower(text[next.End]) ? ScanVerdict.NotCandidate : ScanVerdict.Boundary;
    }

    private ScanVerdict EnsureMarker(ReadOnlySpan<char> text, bool isFinal)
    {
        if (_markerKnown)
        {
            return ScanVerdict.NotCandidate;
        }

        // Markdown around a list number ("**1. Title**", "## 2. Setup") does not hide it.
        var start = 0;
        while (start < text.Length && (CharClass.IsWhite(text[start]) || text[start] is '*' or '_' or '#' or '>'))
        {
            start++;
        }

        if (ListMarker.TryParse(text, start, isFinal, out var marker, out var needMore))
        {
            _hasMarker = true;
            _marker = marker;
        }
        else if (needMore)
        {
            return ScanVerdict.NeedMore;
        }

        _markerKnown = true;
        return ScanVerdict.NotCandidate;
    }

    private bool InBookTitle(int i) => _bookDepth > 0 && i - _bookOpenedAt <= BookTitleReach;

    private static ScanVerdict SkipClosers(ReadOnlySpan<char> text, int from, bool isFinal, out int end)
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

    private static ScanVerdict CutAfterSpace(ReadOnlySpan<char> text, int from, bool isFinal, out int value)
    {
        var w = from;
        while (w < text.Length && CharClass.IsWhite(text[w]))
        {
            w++;
        }

        value = w;
        return w >= text.Length && !isFinal ? ScanVerdict.NeedMore : ScanVerdict.Boundary;
    }

    private static bool PreviousWordCapitalized(ReadOnlySpan<char> text, int start)
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

    private static bool IsFronted(ReadOnlySpan<char> text, int start)
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

    private static bool TokenLooksLikeUrl(ReadOnlySpan<char> text, int i)
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
