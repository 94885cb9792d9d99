using System.Diagnostics;
using System.Text;
using GptWsDaemon.Server.Engines;
using GptWsDaemon.Tests.Support;
using GptWsDaemon.Tests.Text;
using GptWsDaemon.Text;

namespace GptWsDaemon.Tests.Server;

/// <summary>
/// segment tts with "markdown": "strip" end to end: a 2,000-character Markdown answer streamed token by token reaches
/// the client as the stripped text, exactly, and the first frame leaves within one token of the first boundary the tts
/// rule accepts.
/// </summary>
[Category("loopback")]
[TestFixtureSource(typeof(EngineTests), nameof(EngineTests.Engines))]
public sealed class SpeechSegmentTests(EngineKind engine) : EngineTests(engine)
{
    private static readonly TimeSpan TokenDelay = TimeSpan.FromMilliseconds(40);

    [Test, CancelAfter(60000)]
    public async Task MarkdownAnswer_TtsAndStrip_StrippedTextExactlyAndFirstFrameOnTime(CancellationToken ct)
    {
        var answer = MarkdownStripperTests.LongMarkdownAnswer();
        var tokens = Tokens(answer);
        var firstPieceToken = TokenCompletingTheFirstPiece(tokens);
        await using var upstream = new FakeOpenAiServer(PacedThenFast(tokens));
        await using var daemon = await StartDaemonAsync(upstream);
        using var client = await daemon.ConnectAsync(ct);

        // Warm-up (connection pool, JIT), then the time to the first token as the client sees it in origin mode.
        await client.SendAsync(new { seq = "warm", data = new { query = "q", markdown = "strip" } }, ct);
        await client.ReadStreamAsync("warm", ct);
        var origin = Stopwatch.StartNew();
        await client.SendAsync(new { seq = "origin", data = new { query = "q" } }, ct);
        await client.ReceiveAsync(ct);
        var firstTokenAt = origin.Elapsed;
        await client.ReadStreamAsync("origin", ct);

        var sent = Stopwatch.StartNew();
        await client.SendAsync(new { seq = "voice", data = new { query = "q", origin_stream = false, segment = "tts", markdown = "strip" } }, ct);
        var first = await client.ReceiveAsync(ct);
        var firstAt = sent.Elapsed;
        var rest = await client.ReadStreamAsync("voice", ct);

        var text = first!.Value.GetProperty("data").GetProperty("contents").GetString() + rest.Text;
        var expectedAt = firstTokenAt + (TokenDelay * firstPieceToken); // token k is written k delays after the first
        Assert.Multiple(() =>
        {
            Assert.That(text, Is.EqualTo(Strip(answer)), "the frames concatenate to the stripped answer");
            Assert.That(firstAt, Is.GreaterThan(expectedAt - TokenDelay).And.LessThan(expectedAt + TokenDelay + TimeSpan.FromMilliseconds(60)),
                $"first frame at {firstAt.TotalMilliseconds:F0} ms; the rule is met by token {firstPieceToken} ({expectedAt.TotalMilliseconds:F0} ms)");
            Assert.That(rest.FinishReason, Is.EqualTo("stop"));
        });
    }

    /// <summary>The first 30 tokens one delay apart (the part the timing is about), the rest at once.</summary>
    private static Func<FakeRequest, FakeResponse, Task> PacedThenFast(List<string> tokens) => async (req, res) =>
    {
        await res.StartSseAsync();
        for (var k = 0; k < tokens.Count; k++)
        {
            await res.SendChunkAsync(tokens[k], req.IsCompletions);
            if (k < 30)
            {
                await Task.Delay(TokenDelay, res.Aborted);
            }
        }

        await res.SendFinishAsync("stop", req.IsCompletions);
        await res.SendEventAsync("[DONE]");
    };

    /// <summary>The answer cut as a model streams it: a few characters a token.</summary>
    private static List<string> Tokens(string text)
    {
        var tokens = new List<string>();
        for (var i = 0; i < text.Length;)
        {
            var n = Math.Min(1 + (i % 4), text.Length - i);
            if (char.IsHighSurrogate(text[i + n - 1]) && i + n < text.Length)
            {
                n++;
            }

            tokens.Add(text.Substring(i, n));
            i += n;
        }

        return tokens;
    }

    /// <summary>Index of the token after which the daemon's pipeline (stripper, then tts segmenter) releases its first piece.</summary>
    private static int TokenCompletingTheFirstPiece(List<string> tokens)
    {
        var stripper = new MarkdownStripper();
        var segmenter = new SentenceSegmenter(SegmentMode.Tts);
        var output = new StringBuilder();
        for (var k = 0; k < tokens.Count; k++)
        {
            output.Clear();
            stripper.Append(tokens[k], output);
            segmenter.Append(output.ToString());
            if (segmenter.TryTake(out _))
            {
                return k;
            }
        }

        throw new AssertionException("the answer never yields a first piece");
    }

    private static string Strip(string markdown)
    {
        var stripper = new MarkdownStripper();
        var output = new StringBuilder();
        stripper.Append(markdown, output);
        stripper.Complete(output);
        return output.ToString();
    }
}
