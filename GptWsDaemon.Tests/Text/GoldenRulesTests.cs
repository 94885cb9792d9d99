using System.Text.Json;
using GptWsDaemon.Text;
using NUnit.Framework;

namespace GptWsDaemon.Tests.Text;

/// <summary>Sentence-mode quality against the Golden Rules (Pragmatic Segmenter / pySBD), streamed in random chunks.</summary>
[Category("unit")]
[TestFixture]
public sealed class GoldenRulesTests
{
    private static readonly int[] _seeds = [1, 2, 3, 4, 5];
    private static readonly JsonSerializerOptions _json = new() { PropertyNameCaseInsensitive = true };

    [Test]
    public void Append_EnglishGoldenRulesInRandomChunks_AtLeast44Of48Pass()
    {
        var (passed, total) = Score("golden_rules_en.json");
        Assert.That(total, Is.EqualTo(48));
        Assert.That(passed, Is.GreaterThanOrEqualTo(44));
    }

    [Test]
    public void Append_ChineseGoldenRulesInRandomChunks_AllPass()
    {
        var (passed, total) = Score("golden_rules_zh.json");
        Assert.That(total, Is.EqualTo(2));
        Assert.That(passed, Is.EqualTo(total));
    }

    private static (int Passed, int Total) Score(string file)
    {
        var path = Path.Combine(TestContext.CurrentContext.TestDirectory, "Text", "Corpus", file);
        var corpus = JsonSerializer.Deserialize<GoldenCorpus>(File.ReadAllText(path), _json)
            ?? throw new InvalidDataException(file);
        var passed = 0;
        for (var n = 0; n < corpus.Cases.Count; n++)
        {
            var golden = corpus.Cases[n];
            var failure = FirstFailure(golden);
            if (failure is null)
            {
                passed++;
            }
            else
            {
                TestContext.Out.WriteLine($"FAIL {file} #{n}: {golden.Text}");
                TestContext.Out.WriteLine($"  expected: {string.Join(" | ", golden.Sentences)}");
                TestContext.Out.WriteLine($"  got:      {string.Join(" | ", failure)}");
            }
        }

        TestContext.Out.WriteLine($"{file}: {passed}/{corpus.Cases.Count}");
        return (passed, corpus.Cases.Count);
    }

    private static List<string>? FirstFailure(GoldenCase golden)
    {
        var whole = Trimmed(SegmenterDriver.Whole(golden.Text, SegmentMode.Sentence));
        if (!whole.SequenceEqual(golden.Sentences))
        {
            return whole;
        }

        foreach (var seed in _seeds)
        {
            var chunked = Trimmed(SegmenterDriver.Chunked(golden.Text, SegmentMode.Sentence, new Random(seed), maxChunk: 8));
            if (!chunked.SequenceEqual(golden.Sentences))
            {
                return chunked;
            }
        }

        return null;
    }

    private static List<string> Trimmed(List<string> pieces) => pieces.ConvertAll(p => p.Trim());
}
