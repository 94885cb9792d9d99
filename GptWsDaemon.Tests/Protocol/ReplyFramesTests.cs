using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using GptWsDaemon.Protocol;

namespace GptWsDaemon.Tests.Protocol;

/// <summary><see cref="ReplyFrames"/>: the exact bytes of protocol.md §5/§6 frames, field order included.</summary>
[Category("unit")]
[TestFixture]
public sealed partial class ReplyFramesTests
{
    private static readonly RequestSeq Seq = RequestSeq.FromString("s");

    private static readonly string[] Texts =
    [
        "杭州", "西湖🌸很美！", "😀👨‍👩‍👧", "𝄞", "quote\" backslash\\ slash/", "line\nbreak\r\ttab", "nul\0 bell\u0007 esc\u001b del\u007f",
        "</script><b>&amp;</b>'", "\u2028\u2029", "\uFEFFbom", "ü é ñ ß", "a\u0300 combining", "日本語。한국어.", string.Empty, " ",
        "\u0085 NEL \u00A0 nbsp",
    ];

    [Test]
    public void Content_SpecExample_IsExactBytes()
    {
        Assert.That(Text(ReplyFrames.Content(Seq, 0, "杭州")), Is.EqualTo("""{"code":0,"msg":"ok","seq":"s","data":{"consume_time":"0.00","finish_reason":null,"contents":"杭州"}}"""));
    }

    [Test]
    public void Content_NonAsciiText_IsRawUtf8NotEscaped()
    {
        // Half the bytes for Chinese and readable in logs.
        var bytes = Bytes(ReplyFrames.Content(Seq, 0, "杭州西湖"));
        Assert.That(bytes.AsSpan().IndexOf("杭州西湖"u8), Is.GreaterThan(0));
    }

    [Test]
    public void Final_WithoutUsage_IsExactBytes()
    {
        Assert.That(Text(ReplyFrames.Final(Seq, 0, "stop", null)), Is.EqualTo("""{"code":0,"msg":"ok","seq":"s","data":{"consume_time":"0.00","finish_reason":"stop","contents":""}}"""));
    }

    [Test]
    public void Final_WithUsage_AddsUsageAfterContents()
    {
        Assert.That(
            Text(ReplyFrames.Final(RequestSeq.FromString("yuwrywirw89573459"), 0, "length", new UsageInfo(12, 34))),
            Is.EqualTo("""{"code":0,"msg":"ok","seq":"yuwrywirw89573459","data":{"consume_time":"0.00","finish_reason":"length","contents":"","usage":{"prompt_tokens":12,"completion_tokens":34,"total_tokens":46}}}"""));
    }

    [TestCase("stop")]
    [TestCase("length")]
    [TestCase("cancelled")]
    [TestCase("error")]
    public void Final_FinishReason_IsCarried(string reason)
    {
        using var doc = Parse(ReplyFrames.Final(Seq, 0, reason, null));
        Assert.That(doc.RootElement.GetProperty("data").GetProperty("finish_reason").GetString(), Is.EqualTo(reason));
    }

    [Test]
    public void Error_WithSeq_IsExactBytes()
    {
        Assert.That(
            Text(ReplyFrames.Error(ErrorCodes.BadParameter, "max_tokens: must be an integer from 1 to 4000", Seq, 0)),
            Is.EqualTo("""{"code":1004,"msg":"max_tokens: must be an integer from 1 to 4000","seq":"s","data":{"consume_time":"0.00","finish_reason":"error","contents":""}}"""));
    }

    [Test]
    public void Error_WithUpstreamCode_WritesItAsAStringInData()
    {
        Assert.That(
            Text(ReplyFrames.Error(ErrorCodes.UpstreamAuth, "upstream sent an error mid-stream: Incorrect API key provided: sk-***", Seq, 0, "invalid_api_key")),
            Is.EqualTo("""{"code":2001,"msg":"upstream sent an error mid-stream: Incorrect API key provided: sk-***","seq":"s","data":{"consume_time":"0.00","finish_reason":"error","contents":"","upstream_code":"invalid_api_key"}}"""));
    }

    [Test]
    public void Error_UpstreamCodeWithQuotes_IsEscaped()
    {
        using var doc = Parse(ReplyFrames.Error(ErrorCodes.UpstreamError, "m", Seq, 0, "a\"b</x>"));
        Assert.That(doc.RootElement.GetProperty("data").GetProperty("upstream_code").GetString(), Is.EqualTo("a\"b</x>"));
    }

    [Test]
    public void Error_WithoutSeq_WritesNullSeq()
    {
        Assert.That(
            Text(ReplyFrames.Error(ErrorCodes.BadFrame, "frame is not valid JSON", null, 0)),
            Is.EqualTo("""{"code":1001,"msg":"frame is not valid JSON","seq":null,"data":{"consume_time":"0.00","finish_reason":"error","contents":""}}"""));
    }

    [Test]
    public void Pong_WithoutSeq_IsSpecFrame()
    {
        Assert.That(Text(ReplyFrames.Pong(null)), Is.EqualTo("""{"code":0,"msg":"pong"}"""));
    }

    [Test]
    public void Pong_WithSeq_EchoesIt()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Text(ReplyFrames.Pong(RequestSeq.FromString("p"))), Is.EqualTo("""{"code":0,"msg":"pong","seq":"p"}"""));
            Assert.That(Text(ReplyFrames.Pong(RequestSeq.FromNumber("12"u8))), Is.EqualTo("""{"code":0,"msg":"pong","seq":12}"""));
        });
    }

    [TestCase("0")]
    [TestCase("-0")]
    [TestCase("42")]
    [TestCase("1.50")]
    [TestCase("3.0E+2")]
    [TestCase("1e400")]
    [TestCase("12345678901234567890123456789")]
    public void Content_NumericSeq_IsEchoedRaw(string number)
    {
        var seq = RequestSeq.FromNumber(Encoding.UTF8.GetBytes(number));
        Assert.Multiple(() =>
        {
            Assert.That(Text(ReplyFrames.Content(seq, 0, "x")), Does.StartWith($$"""{"code":0,"msg":"ok","seq":{{number}},"data":"""));
            Assert.That(Text(ReplyFrames.Error(ErrorCodes.DuplicateSeq, "m", seq, 0)), Does.Contain($$""","seq":{{number}},"""));
            Assert.That(Text(ReplyFrames.Final(seq, 0, "stop", null)), Does.Contain($$""","seq":{{number}},"""));
        });
    }

    [Test]
    public void Content_AnyText_RoundTripsThroughAJsonParser([ValueSource(nameof(Texts))] string text)
    {
        using var doc = Parse(ReplyFrames.Content(Seq, 0, text));
        Assert.That(doc.RootElement.GetProperty("data").GetProperty("contents").GetString(), Is.EqualTo(text));
    }

    [Test]
    public void Error_AnyMessageAndSeq_RoundTripThroughAJsonParser([ValueSource(nameof(Texts))] string text)
    {
        using var doc = Parse(ReplyFrames.Error(ErrorCodes.UpstreamError, text, RequestSeq.FromString(text), 0));
        Assert.Multiple(() =>
        {
            Assert.That(doc.RootElement.GetProperty("msg").GetString(), Is.EqualTo(text));
            Assert.That(doc.RootElement.GetProperty("seq").GetString(), Is.EqualTo(text));
        });
    }

    [Test]
    public void Content_UnpairedSurrogate_IsReplacedNotThrown()
    {
        // A lone UTF-16 surrogate cannot be UTF-8: it goes out as U+FFFD, and the next frame is unharmed.
        using var doc = Parse(ReplyFrames.Content(Seq, 0, "a\ud800b"));
        Assert.Multiple(() =>
        {
            Assert.That(doc.RootElement.GetProperty("data").GetProperty("contents").GetString(), Is.EqualTo("a\uFFFDb"));
            Assert.That(Text(ReplyFrames.Content(Seq, 0, "ok")), Does.EndWith("\"contents\":\"ok\"}}"));
        });
    }

    [Test]
    public void Content_LongText_IsWrittenWhole()
    {
        var text = string.Concat(Enumerable.Repeat("杭州西湖🌸 West Lake. ", 10_000));
        using var doc = Parse(ReplyFrames.Content(Seq, 0, text));
        Assert.That(doc.RootElement.GetProperty("data").GetProperty("contents").GetString(), Is.EqualTo(text));
    }

    [Test]
    public void Content_FieldOrder_IsSpecOrder()
    {
        using var doc = Parse(ReplyFrames.Content(RequestSeq.FromNumber("5"u8), 0, "x"));
        Assert.Multiple(() =>
        {
            Assert.That(doc.RootElement.EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "code", "msg", "seq", "data" }));
            Assert.That(doc.RootElement.GetProperty("data").EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "consume_time", "finish_reason", "contents" }));
        });
    }

    [Test]
    public void Content_ReceivedAtInThePast_ConsumeTimeHasTwoDecimals()
    {
        var receivedAt = Stopwatch.GetTimestamp() - (long)(Stopwatch.Frequency * 1.234);
        using var doc = Parse(ReplyFrames.Content(Seq, receivedAt, "x"));
        var consumeTime = doc.RootElement.GetProperty("data").GetProperty("consume_time").GetString()!;
        Assert.Multiple(() =>
        {
            Assert.That(TwoDecimals().IsMatch(consumeTime), Is.True, consumeTime);
            Assert.That(double.Parse(consumeTime, System.Globalization.CultureInfo.InvariantCulture), Is.InRange(1.23, 2.0));
        });
    }

    [Test]
    public void ConsumeTime_LongAgo_FormatsSecondsWithTwoDecimals()
    {
        var receivedAt = Stopwatch.GetTimestamp() - (Stopwatch.Frequency * 3725);
        var consumeTime = ConsumeTimeOf(receivedAt);
        Assert.Multiple(() =>
        {
            Assert.That(TwoDecimals().IsMatch(consumeTime), Is.True, consumeTime);
            Assert.That(consumeTime, Does.StartWith("372"));
        });
    }

    [Test]
    public void ConsumeTime_JustNow_IsZeroPointSomething()
    {
        Assert.That(ConsumeTimeOf(Stopwatch.GetTimestamp()), Does.Match("^0\\.0[0-9]$"));
    }

    [TestCase(0.0, "0.00")]
    [TestCase(0.004, "0.00")]
    [TestCase(0.0051, "0.01")]
    [TestCase(0.994, "0.99")]
    [TestCase(0.996, "1.00")]
    [TestCase(1.234, "1.23")]
    [TestCase(59.999, "60.00")]
    [TestCase(3725.5, "3725.50")]
    [TestCase(123456.789, "123456.79")]
    public void FormatSeconds_MatchesTwoDecimalRounding(double seconds, string expected)
    {
        var buffer = new byte[24];
        var n = ReplyFrames.FormatSeconds((long)Math.Round(seconds * Stopwatch.Frequency), buffer);
        Assert.Multiple(() =>
        {
            Assert.That(System.Text.Encoding.ASCII.GetString(buffer, 0, n), Is.EqualTo(expected));
            Assert.That(expected, Is.EqualTo(seconds.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)), "the case itself agrees with F2");
        });
    }

    [Test]
    public void FormatSeconds_NegativeElapsed_IsZero()
    {
        Span<byte> buffer = stackalloc byte[24];
        var n = ReplyFrames.FormatSeconds(-5, buffer);
        Assert.That(System.Text.Encoding.ASCII.GetString(buffer[..n]), Is.EqualTo("0.00"));
    }

    /// <summary>The consume_time a real content frame carries (the same code path every reply uses).</summary>
    private static string ConsumeTimeOf(long receivedAt)
    {
        using var doc = Parse(ReplyFrames.Content(Seq, receivedAt, "x"));
        return doc.RootElement.GetProperty("data").GetProperty("consume_time").GetString()!;
    }

    [Test, CancelAfter(10000)]
    public async Task Content_ManyThreadsAtOnce_EachFrameIsItsOwn(CancellationToken ct)
    {
        // The builder is per thread; frames built in parallel must not bleed into each other.
        var tasks = Enumerable.Range(0, 16).Select(t => Task.Run(
            () =>
            {
                for (var i = 0; i < 500; i++)
                {
                    var text = $"t{t}-i{i}-杭州" + new string('x', i % 50);
                    var frame = ReplyFrames.Content(RequestSeq.FromString($"s{t}"), 0, text);
                    using var doc = JsonDocument.Parse(frame.Memory);
                    frame.Release();
                    if (doc.RootElement.GetProperty("seq").GetString() != $"s{t}" || doc.RootElement.GetProperty("data").GetProperty("contents").GetString() != text)
                    {
                        return false;
                    }
                }

                return true;
            },
            ct));
        var results = await Task.WhenAll(tasks);
        Assert.That(results, Is.All.True);
    }

    [Test]
    public void Frame_AfterRelease_NextFrameIsIndependent()
    {
        // Frames own a copy: building another frame on the same thread does not change an unsent one.
        var first = ReplyFrames.Content(Seq, 0, "first");
        var second = ReplyFrames.Content(Seq, 0, "second-and-longer");
        try
        {
            Assert.Multiple(() =>
            {
                Assert.That(Encoding.UTF8.GetString(first.Memory.Span), Does.Contain("\"first\""));
                Assert.That(Encoding.UTF8.GetString(second.Memory.Span), Does.Contain("\"second-and-longer\""));
                Assert.That(first.Length, Is.EqualTo(first.Memory.Length));
            });
        }
        finally
        {
            first.Release();
            second.Release();
        }
    }

    private static byte[] Bytes(OutgoingFrame frame)
    {
        try
        {
            return frame.Memory.ToArray();
        }
        finally
        {
            frame.Release();
        }
    }

    private static string Text(OutgoingFrame frame) => Encoding.UTF8.GetString(Bytes(frame));

    private static JsonDocument Parse(OutgoingFrame frame) => JsonDocument.Parse(Bytes(frame));

    [GeneratedRegex("^[0-9]+\\.[0-9]{2}$")]
    private static partial Regex TwoDecimals();
}
