namespace GptWsDaemon.Text;

/// <summary>
/// Finds where the current segment (the text since the last cut) ends. Pure and resumable: it remembers how far
/// it has decided, so feeding a longer version of the same text continues where it stopped. Every decision looks
/// only at the segment's text and a bounded lookahead, so any chunking of the input yields the same cuts.
/// A piece keeps the white space that follows it; a cut therefore lands just before the next non-blank character.
/// </summary>
internal sealed class BoundaryScanner : IListMarkerProbe
{
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
    public BoundaryScanner(SegmentMode mode) => _clauses = mode is SegmentMode.Clause or SegmentMode.Tts;

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
            return _hasContent ? Lookback.CutAfterSpace(text, i, isFinal, out value) : ScanVerdict.NoBoundary;
        }

        if (_inInlineCode)
        {
            return ScanVerdict.NotCandidate;
        }

        if (CharClass.IsTerminator(c))
        {
            return InBookTitle(i) ? ScanVerdict.NoBoundary : TerminatorRule.Evaluate(text, i, isFinal, this, out value);
        }

        if (_clauses && (CharClass.IsFullWidthClause(c) || CharClass.IsAsciiClause(c)))
        {
            return InBookTitle(i) ? ScanVerdict.NoBoundary : ClauseRule.Evaluate(text, i, c, isFinal, out value);
        }

        if (_hasContent && i > 0 && CharClass.IsWhite(text[i - 1])
            && (CharClass.IsBullet(c) || CharClass.IsAsciiDigit(c) || CharClass.IsAsciiLetter(c)))
        {
            return EvaluateListItem(text, i, isFinal, out value);
        }

        return ScanVerdict.NotCandidate;
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

    /// <inheritdoc/>
    public int MarkerDotIndex => _hasMarker ? _marker.DotIndex : -1;

    /// <inheritdoc/>
    public ScanVerdict EnsureMarker(ReadOnlySpan<char> text, bool isFinal)
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
}
