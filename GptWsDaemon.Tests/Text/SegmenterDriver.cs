using GptWsDaemon.Text;

namespace GptWsDaemon.Tests.Text;

/// <summary>Feeds text to a <see cref="SentenceSegmenter"/> in chosen chunks and collects the pieces.</summary>
internal static class SegmenterDriver
{
    /// <summary>Feeds the whole text in one Append.</summary>
    public static List<string> Whole(string text, SegmentMode mode, int minChars = 0, int maxPieceChars = 4096)
    {
        var segmenter = new SentenceSegmenter(mode, minChars, maxPieceChars);
        var pieces = new List<string>();
        segmenter.Append(text);
        Drain(segmenter, pieces);
        segmenter.Complete();
        Drain(segmenter, pieces);
        return pieces;
    }

    /// <summary>Feeds the text in random chunks of 1..<paramref name="maxChunk"/> chars (surrogate pairs may be split).</summary>
    public static List<string> Chunked(string text, SegmentMode mode, Random random, int maxChunk, int minChars = 0, int maxPieceChars = 4096)
    {
        var segmenter = new SentenceSegmenter(mode, minChars, maxPieceChars);
        var pieces = new List<string>();
        var position = 0;
        while (position < text.Length)
        {
            var size = Math.Min(random.Next(1, maxChunk + 1), text.Length - position);
            segmenter.Append(text.AsSpan(position, size));
            position += size;
            Drain(segmenter, pieces);
        }

        segmenter.Complete();
        Drain(segmenter, pieces);
        return pieces;
    }

    private static void Drain(SentenceSegmenter segmenter, List<string> pieces)
    {
        while (segmenter.TryTake(out var piece))
        {
            pieces.Add(piece);
        }
    }
}
