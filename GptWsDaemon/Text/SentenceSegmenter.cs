using System.Diagnostics.CodeAnalysis;

namespace GptWsDaemon.Text;

/// <summary>
/// Incremental sentence segmenter: fed deltas with <see cref="Append"/>, hands out each finished piece
/// through <see cref="TryTake"/> as soon as its end is certain; <see cref="Complete"/> releases the tail.
/// Pure: knows nothing of sockets. Concatenating every piece gives the input exactly, whatever the chunking,
/// and any chunking gives the same pieces. White space after a sentence stays at the end of its piece, so
/// a piece starts with a non-blank character (except the very first, or one after a forced cut).
/// </summary>
public sealed class SentenceSegmenter
{
    private const int InitialCapacity = 256;

    private readonly Queue<string> _ready = new();
    private readonly BoundaryScanner _scanner;
    private readonly int _minChars;
    private readonly int _maxPieceChars;
    private readonly TtsLimits? _tts; // set in SegmentMode.Tts
    private char[] _buffer = new char[InitialCapacity];
    private bool _firstOut; // Tts: the first piece went out
    private int _lastClause; // Tts: end of the last clause boundary not yet emitted, 0 = none
    private int _length;
    private int _segmentStart;

    /// <summary>Creates a segmenter.</summary>
    /// <param name="mode">Clause or sentence granularity.</param>
    /// <param name="minChars">Pieces shorter than this (trailing white space not counted) are merged with the next one.</param>
    /// <param name="maxPieceChars">Hard cap: a piece longer than this is cut wherever it stands (never inside a surrogate pair).</param>
    /// <param name="tts">The lengths of <see cref="SegmentMode.Tts"/> (its defaults when null); ignored in other modes.</param>
    public SentenceSegmenter(SegmentMode mode, int minChars = 0, int maxPieceChars = 4096, TtsLimits? tts = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(minChars);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPieceChars, 1);
        _scanner = new BoundaryScanner(mode);
        _minChars = minChars;
        _tts = mode == SegmentMode.Tts ? tts ?? new TtsLimits() : null;
        _maxPieceChars = _tts is null ? maxPieceChars : Math.Min(maxPieceChars, Math.Max(_tts.MaxChars, 2));
    }

    /// <summary>Adds text from the stream; it may split anything, even a surrogate pair.</summary>
    public void Append(ReadOnlySpan<char> text)
    {
        // Slices keep the buffer near the cap even when one huge delta arrives.
        var slice = Math.Max(_maxPieceChars, InitialCapacity);
        while (!text.IsEmpty)
        {
            var part = text[..Math.Min(text.Length, slice)];
            EnsureCapacity(_length + part.Length);
            part.CopyTo(_buffer.AsSpan(_length));
            _length += part.Length;
            text = text[part.Length..];
            Process(isFinal: false);
        }
    }

    /// <summary>Takes the next finished piece, if any.</summary>
    public bool TryTake([NotNullWhen(true)] out string? piece) => _ready.TryDequeue(out piece);

    /// <summary>
    /// Ends the input: every boundary is now decidable, so the remaining text becomes available through
    /// <see cref="TryTake"/> (the unfinished tail as the last piece). Text appended afterwards starts a new stream.
    /// </summary>
    public void Complete()
    {
        Process(isFinal: true);
        _length = 0;
        _segmentStart = 0;
        _firstOut = false;
        _lastClause = 0;
        _scanner.Reset();
    }

    private void Process(bool isFinal)
    {
        while (true)
        {
            var segment = _buffer.AsSpan(_segmentStart, _length - _segmentStart);
            if (_scanner.TryFindBoundary(segment, isFinal, out var cut))
            {
                var end = _segmentStart + cut;
                if (end > _maxPieceChars)
                {
                    ForceCut();
                    continue;
                }

                _scanner.Restart(segment, cut);
                _segmentStart = end;
                if (_tts is not null)
                {
                    AtTtsBoundary(end);
                }
                else if (ContentLength(end) >= _minChars)
                {
                    Emit(end);
                }

                continue;
            }

            if (_segmentStart + _scanner.EarliestCut > _maxPieceChars)
            {
                ForceCut();
                continue;
            }

            if (isFinal && _length > 0)
            {
                Emit(_length);
            }

            return;
        }
    }

    /// <summary>
    /// protocol.md §5.4, segment tts: the first piece goes at the first clause or sentence end heavy enough; after it,
    /// only sentence ends cut, once the pending text is heavy enough; clause ends are remembered for a long sentence.
    /// </summary>
    private void AtTtsBoundary(int end)
    {
        var weight = TtsLimits.Weight(_buffer.AsSpan(0, end));
        if (!_firstOut)
        {
            if (weight >= _tts!.FirstMinChars)
            {
                Emit(end);
                _firstOut = true;
            }
        }
        else if (EndsAtClauseMark(end))
        {
            _lastClause = end;
        }
        else if (weight >= _tts!.MinChars)
        {
            Emit(end);
        }
    }

    private bool EndsAtClauseMark(int end)
    {
        var k = end;
        while (k > 0 && (CharClass.IsWhite(_buffer[k - 1]) || CharClass.IsCloser(_buffer[k - 1]) || CharClass.IsAmbiguousCloser(_buffer[k - 1])))
        {
            k--;
        }

        return k > 0 && (CharClass.IsFullWidthClause(_buffer[k - 1]) || CharClass.IsAsciiClause(_buffer[k - 1]));
    }

    private void ForceCut()
    {
        if (_tts is not null && _lastClause > 0)
        {
            // A sentence past tts.max_chars: cut at its last clause mark.
            Emit(_lastClause);
            return;
        }

        if (_segmentStart > 0)
        {
            // Short pieces waiting for minChars end at a real boundary: release them before cutting blindly.
            Emit(_segmentStart);
            return;
        }

        var cut = _maxPieceChars;
        var found = false;
        for (var k = cut; k > cut / 2; k--)
        {
            if (CharClass.IsWhite(_buffer[k - 1]))
            {
                cut = k;
                found = true;
                break;
            }
        }

        if (!found && char.IsHighSurrogate(_buffer[cut - 1]))
        {
            // Never separate a surrogate pair; with a cap of 1 the pair has to exceed it.
            cut = cut > 1 ? cut - 1 : Math.Min(2, _length);
        }

        _scanner.Restart(_buffer.AsSpan(0, _length), cut);
        Emit(cut);
    }

    private void Emit(int count)
    {
        _ready.Enqueue(new string(_buffer, 0, count));
        _buffer.AsSpan(count, _length - count).CopyTo(_buffer);
        _length -= count;
        _segmentStart = Math.Max(0, _segmentStart - count);
        _lastClause = _lastClause > count ? _lastClause - count : 0;
        _firstOut |= _tts is not null;
    }

    private int ContentLength(int end)
    {
        while (end > 0 && CharClass.IsWhite(_buffer[end - 1]))
        {
            end--;
        }

        return end;
    }

    private void EnsureCapacity(int needed)
    {
        if (needed > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(needed, _buffer.Length * 2));
        }
    }
}
