using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace GptWsDaemon.Text;

/// <summary>
/// Incremental sentence segmenter: fed deltas with <see cref="Append"/>, hands out each finished piece
/// through <see cref="TryTake"/> as soon as its end is certain; <see cref="Complete"/> releases the tail.
/// Pure: knows nothing of sockets. Concatenating every piece gives the input exactly.
/// </summary>
public sealed class SentenceSegmenter
{
    private readonly StringBuilder _pending = new();
    private readonly Queue<string> _ready = new();
    private readonly SegmentMode _mode;
    private readonly int _minChars;
    private readonly int _maxPieceChars;

    /// <summary>Creates a segmenter.</summary>
    /// <param name="mode">Clause or sentence granularity.</param>
    /// <param name="minChars">Pieces shorter than this are merged with the next one.</param>
    /// <param name="maxPieceChars">Hard cap: a piece longer than this is cut wherever it stands.</param>
    public SentenceSegmenter(SegmentMode mode, int minChars = 0, int maxPieceChars = 4096)
    {
        _mode = mode;
        _minChars = minChars;
        _maxPieceChars = maxPieceChars;
    }

    /// <summary>Adds text from the stream.</summary>
    public void Append(ReadOnlySpan<char> text)
    {
        foreach (var c in text)
        {
            _pending.Append(c);
            var cut = c is '。' or '！' or '？' or '\n' || (_mode == SegmentMode.Clause && c is '，' or '、' or '；' or '：');
            if ((cut && _pending.Length >= _minChars) || _pending.Length >= _maxPieceChars)
            {
                _ready.Enqueue(_pending.ToString());
                _pending.Clear();
            }
        }
    }

    /// <summary>Takes the next finished piece, if any.</summary>
    public bool TryTake([NotNullWhen(true)] out string? piece) => _ready.TryDequeue(out piece);

    /// <summary>
    /// Ends the input: every boundary is now decidable, so the remaining text becomes available through
    /// <see cref="TryTake"/> (the unfinished tail as the last piece).
    /// </summary>
    public void Complete()
    {
        if (_pending.Length > 0)
        {
            _ready.Enqueue(_pending.ToString());
            _pending.Clear();
        }
    }
}
