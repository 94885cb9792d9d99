using System.Text;
using GptWsDaemon.Protocol;
using GptWsDaemon.Upstream;
using GptWsDaemon.Upstream.Dialects;

namespace GptWsDaemon.Tests.Upstream;

/// <summary><see cref="ChunkParser"/> over what OpenAI and compatible providers really stream (protocol.md §9).</summary>
[Category("unit")]
[TestFixture]
public sealed class ChunkParserTests
{
    [Test]
    public void Parse_ChatChunk_ReadsDeltaContent()
    {
        var chunk = Parse("""{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","system_fingerprint":"fp","choices":[{"index":0,"delta":{"content":"杭州"},"logprobs":null,"finish_reason":null}]}""");
        Assert.That(chunk, Is.EqualTo(Chunk("杭州", null, null)));
    }

    [Test]
    public void Parse_CompletionsChunk_ReadsText()
    {
        var chunk = Parse("""{"id":"cmpl-1","object":"text_completion","created":1,"choices":[{"text":" West Lake","index":0,"logprobs":null,"finish_reason":null}],"model":"gpt-3.5-turbo-instruct"}""");
        Assert.That(chunk, Is.EqualTo(Chunk(" West Lake", null, null)));
    }

    [Test]
    public void Parse_CompletionsFinalChunk_ReadsFinishReason()
    {
        var chunk = Parse("""{"choices":[{"text":"","index":0,"logprobs":null,"finish_reason":"length"}]}""");
        Assert.That(chunk, Is.EqualTo(Chunk(string.Empty, "length", null)));
    }

    [Test]
    public void Parse_EmptyChoices_YieldsNothing()
    {
        // Azure's first chunk carries prompt_filter_results and no choices.
        var chunk = Parse("""{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}}}]}""");
        Assert.That(chunk, Is.EqualTo(Chunk(null, null, null)));
    }

    [Test]
    public void Parse_UsageNull_YieldsNoUsage()
    {
        var chunk = Parse("""{"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}],"usage":null}""");
        Assert.That(chunk, Is.EqualTo(Chunk("a", null, null)));
    }

    [Test]
    public void Parse_UsageChunk_ReadsTokenCounts()
    {
        // The include_usage chunk: choices empty, the details kept (cached and reasoning tokens), others skipped.
        var chunk = Parse("""{"id":"x","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":34,"total_tokens":46,"prompt_tokens_details":{"cached_tokens":5,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":20}}}""");
        Assert.That(chunk, Is.EqualTo(Chunk(null, null, new UsageInfo(12, 34) { CachedTokens = 5, ReasoningTokens = 20 })));
    }

    [Test]
    public void Parse_UsageBeforeChoices_ReadsBoth()
    {
        var chunk = Parse("""{"usage":{"completion_tokens":2,"prompt_tokens":1},"choices":[{"delta":{"content":"x"},"finish_reason":"stop"}]}""");
        Assert.That(chunk, Is.EqualTo(Chunk("x", "stop", new UsageInfo(1, 2))));
    }

    [Test]
    public void Parse_UsageWithOddValues_CountsZero()
    {
        var chunk = Parse("""{"usage":{"prompt_tokens":"12","completion_tokens":1e20}}""");
        Assert.That(chunk.Usage, Is.EqualTo(new UsageInfo(0, 0)));
    }

    [TestCase("""{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}""", null, "stop")]
    [TestCase("""{"choices":[{"index":0,"delta":{"content":null},"finish_reason":null}]}""", null, null)]
    [TestCase("""{"choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"finish_reason":null}]}""", "", null)]
    [TestCase("""{"choices":[{"index":0,"delta":{"role":"assistant"}}]}""", null, null)]
    [TestCase("""{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":[1,{\"b\":2}]}"}}]}}]}""", null, null)]
    [TestCase("""{"choices":[{"delta":null,"finish_reason":"content_filter"}]}""", null, "content_filter")]
    [TestCase("""{"choices":[{"delta":{"content":"a"},"finish_reason":null,"content_filter_results":{"hate":{"filtered":false}}}]}""", "a", null)]
    [TestCase("""{"choices":null}""", null, null)]
    [TestCase("""{"choices":[null,1,"x"]}""", null, null)]
    [TestCase("""{}""", null, null)]
    public void Parse_DeltaVariants_ReadContentAndFinish(string json, string? content, string? finish)
    {
        Assert.That(Parse(json), Is.EqualTo(Chunk(content, finish, null)));
    }

    [Test]
    public void Parse_UnknownFieldsAndDeepNesting_AreSkipped()
    {
        var chunk = Parse("""{"x":{"y":[[[{"content":"not me","choices":[{"delta":{"content":"nor me"}}]}]]]},"choices":[{"logprobs":{"content":[{"token":"a","bytes":[97],"top_logprobs":[]}]},"delta":{"extra":{"content":"not me"},"content":"me"}}],"z":[true,false,null,1.5e3]}""");
        Assert.That(chunk, Is.EqualTo(Chunk("me", null, null)));
    }

    [TestCase("""{"choices":[{"delta":{"content":"\u676d\u5dde"}}]}""", "杭州")]
    [TestCase("""{"choices":[{"delta":{"content":"\ud83c\udf38 \uD83D\uDE00"}}]}""", "🌸 😀")]
    [TestCase("""{"choices":[{"delta":{"content":"🌸 raw"}}]}""", "🌸 raw")]
    [TestCase("""{"choices":[{"delta":{"content":"q\"b\\s\/n\nt\tu\u0000"}}]}""", "q\"b\\s/n\nt\tu\0")]
    [TestCase("""{"\u0063hoices":[{"delta":{"\u0063ontent":"escaped names"}}]}""", "escaped names")]
    public void Parse_EscapedText_IsUnescaped(string json, string content)
    {
        Assert.That(Parse(json).Content, Is.EqualTo(content));
    }

    [Test]
    public void Parse_SeveralChoices_RelaysOnlyTheFirst()
    {
        // n > 1 is never requested; if a provider sends several choices anyway only the first is relayed.
        var chunk = Parse("""{"choices":[{"index":0,"delta":{"content":"first"},"finish_reason":null},{"index":1,"delta":{"content":"second"},"finish_reason":"stop"}]}""");
        Assert.That(chunk, Is.EqualTo(Chunk("first", null, null)));
    }

    [TestCase("""{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}""", "The server had an error while processing your request.", null, "server_error")]
    [TestCase("""{"error":"Rate limit reached"}""", "Rate limit reached", null, null)]
    [TestCase("""{"choices":[],"error":{"code":500,"type":"x"}}""", null, "500", "x")]
    [TestCase("""{"error":{"message":123}}""", null, null, null)]
    [TestCase("""{"error":{"message":"Incorrect API key provided: Bearer sk-abc","code":"invalid_api_key","type":"invalid_request_error"}}""", "Incorrect API key provided: Bearer sk-abc", "invalid_api_key", "invalid_request_error")]
    public void Parse_ErrorObject_ThrowsReportedErrorWithItsBodyUnsanitized(string json, string? message, string? code, string? type)
    {
        // ChunkParser only reports: UpstreamFailures alone makes client text of it (redaction, caps, codes).
        var ex = Assert.Throws<ReportedErrorException>(() => Parse(json));
        Assert.That(ex.Body, Is.EqualTo(new UpstreamErrorBody(message, code, type)));
    }

    // A source, not [TestCase]: attribute strings are stored as UTF-8, which cannot hold a lone surrogate.
    private static readonly object[] LoneSurrogateCases =
    [
        new object[] { """{"choices":[{"delta":{"content":"abcdef\ud83d"}}]}""", "abcdef\ud83d" },
        new object[] { """{"choices":[{"delta":{"content":"\ude00gh"}}]}""", "\ude00gh" },
        new object[] { """{"choices":[{"delta":{"content":"\ud83c"}}]}""", "\ud83c" },
        new object[] { """{"choices":[{"delta":{"content":"杭\n\"\\\/\b\f\r\t\u0041\ud83d"}}]}""", "杭\n\"\\/\b\f\r\tA\ud83d" },
        new object[] { """{"choices":[{"text":"\udc00\ud800x"}]}""", "\udc00\ud800x" },
    ];

    [TestCaseSource(nameof(LoneSurrogateCases))]
    public void Parse_LoneSurrogateEscape_KeptAsItIsForTheStitcher(string json, string content)
    {
        // Valid JSON that Utf8JsonReader.CopyString refuses: a provider slicing by UTF-16 units sends it.
        Assert.That(Parse(json).Content, Is.EqualTo(content));
    }

    [Test]
    public void Parse_LoneSurrogatesAmongRandomEscapes_MatchWhatSystemTextJsonEncodes([Range(0, 199)] int seed)
    {
        // System.Text.Json writes the escapes (\uXXXX for non-ASCII, \n, \", …) of random text; lone surrogates, which it
        // cannot write, go between those pieces. Our unescaping must give back exactly the pieces and the lone halves.
        var random = new Random(seed);
        var json = new StringBuilder("{\"choices\":[{\"delta\":{\"content\":\"");
        var expected = new StringBuilder();
        for (var piece = random.Next(1, 6); piece > 0; piece--)
        {
            var text = new string([.. Enumerable.Range(0, random.Next(0, 12)).Select(_ => RandomChar(random))]);
            json.Append(System.Text.Json.JsonSerializer.Serialize(text)[1..^1]);
            expected.Append(text);
            var lone = (char)(random.Next(2) == 0 ? random.Next(0xD800, 0xDC00) : random.Next(0xDC00, 0xE000));
            json.Append(random.Next(2) == 0 ? $"\\u{(int)lone:x4}" : $"\\u{(int)lone:X4}");
            expected.Append(lone);
        }

        json.Append("\"}}]}");
        Assert.That(Parse(json.ToString()).Content, Is.EqualTo(expected.ToString()));
    }

    [Test]
    public void Parse_LoneSurrogateEscapeBesideInvalidUtf8_ThrowsUpstreamBroken()
    {
        var bytes = Encoding.UTF8.GetBytes("""{"choices":[{"delta":{"content":"ab\ud83d"}}]}""");
        bytes[Array.IndexOf(bytes, (byte)'b')] = 0xC3; // C3 then a backslash is no UTF-8
        var ex = Assert.Throws<UpstreamException>(() => ChunkParser.Parse(bytes));
        Assert.That(ex.Code, Is.EqualTo(ErrorCodes.UpstreamBroken));
    }

    [Test]
    public void Parse_ErrorNull_IsNoError()
    {
        // Some compatible providers put "error": null on every normal chunk.
        var chunk = Parse("""{"choices":[{"delta":{"content":"ok"}}],"error":null}""");
        Assert.That(chunk, Is.EqualTo(Chunk("ok", null, null)));
    }

    [TestCase("")]
    [TestCase(" ")]
    [TestCase("[DONE]")]
    [TestCase("null")]
    [TestCase("\"text\"")]
    [TestCase("[{\"choices\":[]}]")]
    [TestCase("{\"choices\":[{\"delta\":{\"content\":\"hi\"")]
    [TestCase("{\"choices\":[{\"delta\":{\"content\":\"hi\"}}]")]
    [TestCase("{\"choices\":[{\"delta\":{\"content\":\"hi}}]}")]
    [TestCase("{\"choices\":[{\"delta\":{\"content\":'hi'}}]}")]
    [TestCase("{\"choices\":[{\"delta\":{\"content\":\"\\x41\"}}]}")]
    [TestCase("{choices:[]}")]
    [TestCase("{\"choices\":[],}")]
    public void Parse_MalformedJson_ThrowsUpstreamBroken(string json)
    {
        var ex = Assert.Throws<UpstreamException>(() => Parse(json));
        Assert.That(ex.Code, Is.EqualTo(ErrorCodes.UpstreamBroken));
    }

    [Test]
    public void Parse_InvalidUtf8InContent_ThrowsUpstreamBroken()
    {
        var bytes = Encoding.UTF8.GetBytes("""{"choices":[{"delta":{"content":"ab"}}]}""");
        bytes[Array.LastIndexOf(bytes, (byte)'a')] = 0xC3; // the "a" of "ab": C3 then "b" is no UTF-8
        var ex = Assert.Throws<UpstreamException>(() => ChunkParser.Parse(bytes));
        Assert.That(ex.Code, Is.EqualTo(ErrorCodes.UpstreamBroken));
    }

    [Test]
    public void Parse_NestingPastDepthLimit_ThrowsUpstreamBroken()
    {
        var json = "{\"x\":" + new string('[', 1000) + new string(']', 1000) + "}";
        var ex = Assert.Throws<UpstreamException>(() => Parse(json));
        Assert.That(ex.Code, Is.EqualTo(ErrorCodes.UpstreamBroken));
    }

    [Test]
    public void Parse_PooledText_ReusesOneBufferAndGrowsItForLongContent()
    {
        char[]? text = null;
        var first = ChunkParser.Parse(Encoding.UTF8.GetBytes("""{"choices":[{"delta":{"content":"杭州"}}]}"""), ref text);
        var firstText = first.Content.ToString();
        var buffer = text;
        var second = ChunkParser.Parse(Encoding.UTF8.GetBytes("""{"choices":[{"delta":{"content":"\u2603 ok"}}]}"""), ref text);
        var secondText = second.Content.ToString();
        var sameBuffer = ReferenceEquals(buffer, text);
        var long1 = new string('x', 5000) + "末";
        var third = ChunkParser.Parse(Encoding.UTF8.GetBytes("{\"choices\":[{\"delta\":{\"content\":\"" + long1 + "\"}}]}"), ref text);

        Assert.Multiple(() =>
        {
            Assert.That(firstText, Is.EqualTo("杭州"));
            Assert.That(secondText, Is.EqualTo("☃ ok"));
            Assert.That(sameBuffer, Is.True, "a chunk that fits must not rent another buffer");
            Assert.That(third.Content.ToString(), Is.EqualTo(long1));
            Assert.That(text, Has.Length.GreaterThanOrEqualTo(long1.Length));
        });

        System.Buffers.ArrayPool<char>.Shared.Return(text!);
    }

    private static char RandomChar(Random random) => random.Next(8) switch
    {
        0 => (char)random.Next(0, 0x20),
        1 => "\"\\/<>&'+`"[random.Next(9)],
        2 => (char)random.Next(0x4E00, 0x9FFF),
        3 => (char)random.Next(0x80, 0x800),
        _ => (char)random.Next(0x20, 0x7F),
    };

    private static Parsed Parse(string json)
    {
        var chunk = ChunkParser.Parse(Encoding.UTF8.GetBytes(json));
        return new Parsed(chunk.Content.ToString(), chunk.FinishReason, chunk.Usage);
    }

    /// <summary>What a chunk says, by value (absent content and "" are the same: no text to relay).</summary>
    private static Parsed Chunk(string? content, string? finishReason, UsageInfo? usage) => new(content ?? string.Empty, finishReason, usage);

    private sealed record Parsed(string Content, string? FinishReason, UsageInfo? Usage);
}
