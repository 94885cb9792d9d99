using System.Text;
using GptWsDaemon.Text;
using NUnit.Framework;

namespace GptWsDaemon.Tests.Text;

/// <summary>Random texts and random chunkings: nothing is lost, and the chunking never changes the pieces.</summary>
[Category("unit")]
[TestFixture]
public sealed class SegmenterPropertyTests
{
    private const int TextsPerSeed = 150;

    private static readonly string[] _fragments =
    [
        "你好", "世界", "我们走吧", "。", "！", "？", "，", "、", "；", "：", "……", "…", "“", "”", "《", "》", "「", "」", "（", "）",
        "．", "３．１４", "Hello", "world", "The", "they", "I", "E.", "Mr.", "Dr.", "U.S.", "e.g.", "p.", "No.", "a.m.", "P.M.",
        "3.14", "1,000", "10:30", "v2.0.1", "$100.00", "https://example.com/a.b?c=d", "jane.doe@example.com", ".", "!", "?",
        "...", ". . .", "?!", ",", ";", ":", "\"", "'", "(", ")", "[", "]", "*", "`", " ", " ", " ", "  ", "\n", "\n\n", "\t",
        "\r\n", "😀", "👍🏽", "🎉", "𠀀", "1.", "2.)", "3)", "a.", "b.", "• 9.", "⁃10.", "123", "```", "```python\n", "\n```\n",
        "~~~\n", "\u3000", "Ⅱ", "é", "Ça",
    ];

    private static readonly (int MinChars, int MaxPieceChars)[] _limits = [(0, 4096), (6, 4096), (0, 16), (4, 7), (0, 1)];

    [TestCase(SegmentMode.Sentence, 11)]
    [TestCase(SegmentMode.Sentence, 12)]
    [TestCase(SegmentMode.Clause, 21)]
    [TestCase(SegmentMode.Clause, 22)]
    [TestCase(SegmentMode.Tts, 31)]
    [TestCase(SegmentMode.Tts, 32)]
    public void Append_RandomTextAnyChunking_ConcatenatesToInputAndMatchesWholeFeed(SegmentMode mode, int seed)
    {
        var random = new Random(seed);
        for (var n = 0; n < TextsPerSeed; n++)
        {
            var text = RandomText(random);
            foreach (var (minChars, max) in _limits)
            {
                var whole = SegmenterDriver.Whole(text, mode, minChars, max);
                var context = $"text #{n} {Escape(text)} min={minChars} max={max}";
                Assert.That(string.Concat(whole), Is.EqualTo(text), context);
                Assert.That(whole, Has.None.Empty, context);
                Assert.That(whole, Has.All.Matches<string>(p => p.Length <= Math.Max(max, 2)), context);
                if (max > 2)
                {
                    Assert.That(whole, Has.All.Matches<string>(p => !char.IsHighSurrogate(p[^1])), context);
                }

                if (max == 4096 && minChars == 0)
                {
                    // White space between sentences stays at the end of the previous piece.
                    Assert.That(whole.Skip(1), Has.All.Matches<string>(p => !char.IsWhiteSpace(p[0])), context);
                }

                foreach (var maxChunk in new[] { 1, 3, 8 })
                {
                    var chunked = SegmenterDriver.Chunked(text, mode, random, maxChunk, minChars, max);
                    Assert.That(chunked, Is.EqualTo(whole), $"{context} chunk<={maxChunk}");
                }
            }
        }
    }

    private static string RandomText(Random random)
    {
        var builder = new StringBuilder();
        var count = random.Next(0, 60);
        for (var k = 0; k < count; k++)
        {
            builder.Append(_fragments[random.Next(_fragments.Length)]);
        }

        return builder.ToString();
    }

    private static string Escape(string text) => text.Replace("\n", "\\n", StringComparison.Ordinal).Replace("\r", "\\r", StringComparison.Ordinal);
}
