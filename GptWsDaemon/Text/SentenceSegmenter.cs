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
    private char[] _buffer = new char[InitialCapacity];
    private int _length;
    private int _segmentStart;

    /// <summary>Creates a segmenter.</summary>
    /// <param name="mode">Clause or sentence granularity.</param>
    /// <param name="minChars">Pieces shorter than this (trailing white space not counted) are merged with the next one.</param>
    /// <param name="maxPieceChars">Hard cap: a piece longer than this is cut wherever it stands (never inside a surrogate pair).</param>
    public SentenceSegmenter(SegmentMode mode, int minChars = 0, int maxPieceChars = 4096)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(minChars);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPieceChars, 1);
        _scanner = new BoundaryScanner(mode);
        _minChars = minChars;
        _maxPieceChars = maxPieceChars;
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
                if (ContentLength(end) >= _minChars)
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

    private void ForceCut()
    {
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
