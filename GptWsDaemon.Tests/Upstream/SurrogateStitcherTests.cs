using System.Buffers;
using GptWsDaemon.Upstream;

namespace GptWsDaemon.Tests.Upstream;

/// <summary><see cref="SurrogateStitcher"/>: deltas cut between the halves of a surrogate pair, and halves that have no partner.</summary>
[Category("unit")]
[TestFixture]
public sealed class SurrogateStitcherTests
{
    // Sources, not [TestCase]: attribute strings are stored as UTF-8, which cannot hold a lone surrogate.
    private static readonly object[] Cases =
    [
        new object[] { new[] { "abcdef\ud83d", "\ude00gh" }, "abcdef😀gh" },
        new object[] { new[] { "\ud83d", "\ude00" }, "😀" },
        new object[] { new[] { "a\ud83d", "", "\ude00" }, "a😀" },
        new object[] { new[] { "x\ude00y" }, "x\uFFFDy" },
        new object[] { new[] { "\ude00", "z" }, "\uFFFDz" },
        new object[] { new[] { "a\ud83db" }, "a\uFFFDb" },
        new object[] { new[] { "a\ud83d", "b" }, "a\uFFFDb" },
        new object[] { new[] { "a\ud83d", "\ud83d", "\ude00" }, "a\uFFFD😀" },
        new object[] { new[] { "end\ud83d" }, "end\uFFFD" },
        new object[] { new[] { "🌸 plain", " 杭州" }, "🌸 plain 杭州" },
    ];

    [TestCaseSource(nameof(Cases))]
    public void MendThenFlush_Deltas_GiveWhatJoiningAndDecodingGives(string[] deltas, string expected)
    {
        var stitcher = default(SurrogateStitcher);
        char[]? text = null;
        var output = new System.Text.StringBuilder();
        foreach (var delta in deltas)
        {
            text = ArrayPool<char>.Shared.Rent(Math.Max(delta.Length, 1)); // the parser's buffers are pooled
            delta.CopyTo(text);
            var length = stitcher.Mend(ref text, delta.Length);
            var piece = new string(text!, 0, length);
            Assert.That(piece.EnumerateRunes().All(r => r.Value != 0) && IsWellFormed(piece), Is.True, $"piece {delta} is whole UTF-16");
            output.Append(piece);
        }

        var tail = stitcher.Flush(ref text, 0);
        output.Append(text, 0, tail);
        ArrayPool<char>.Shared.Return(text!);
        Assert.That(output.ToString(), Is.EqualTo(expected));
    }

    [Test]
    public void Mend_HeldSurrogateAndAFullBuffer_GrowsTheBuffer()
    {
        var stitcher = default(SurrogateStitcher);
        char[]? text = ArrayPool<char>.Shared.Rent(16);
        "a\ud83d".CopyTo(text);
        Assert.That(stitcher.Mend(ref text, 2), Is.EqualTo(1));
        ArrayPool<char>.Shared.Return(text!);
        text = ArrayPool<char>.Shared.Rent(16);
        var full = text.Length;
        text[0] = '\ude00';
        text.AsSpan(1, full - 1).Fill('b');
        var length = stitcher.Mend(ref text, full);
        Assert.That(new string(text!, 0, length), Is.EqualTo("😀" + new string('b', full - 1)));
        Assert.That(stitcher.Holding, Is.False);
        ArrayPool<char>.Shared.Return(text!);
    }

    private static bool IsWellFormed(string s)
    {
        for (var i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(s[i]))
            {
                return false;
            }
        }

        return true;
    }
}
