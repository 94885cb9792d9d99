using GptWsDaemon.Text;
using GptWsDaemon.Server.Engines;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using GptWsDaemon.Protocol;
using GptWsDaemon.Tests.Support;
using GptWsDaemon.Upstream;

namespace GptWsDaemon.Tests.Server;

/// <summary>The core path end to end: real ClientWebSocket → daemon → real HTTP fake upstream speaking SSE.</summary>
[Category("loopback")]
[TestFixtureSource(typeof(EngineTests), nameof(EngineTests.Engines))]
public sealed partial class StreamingTests(EngineKind engine) : EngineTests(engine)
{
    private static readonly string[] Deltas = ["杭州", "有西湖", "。", " West", " Lake", " is 🌸 lovely", ". 灵隐寺", "也很美！"];

    [Test, CancelAfter(20000)]
    public async Task ChatRequest_OriginStream_RelaysEveryDeltaInOrder(CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer(FakeOpenAiServer.Streams(Deltas));
        await using var daemon = await StartDaemonAsync(upstream);
        using var client = await daemon.ConnectAsync(ct);

        await client.SendAsync(new { seq = "yuwrywirw89573459", data = new { messages = new[] { new { role = "user", content = "杭州都有什么景色？" } }, model = "gpt-3.5-turbo" } }, ct);
        var stream = await client.ReadStreamAsync("yuwrywirw89573459", ct);

        Assert.Multiple(() =>
        {
            Assert.That(stream.ContentFrames.Select(f => f.GetProperty("data").GetProperty("contents").GetString()), Is.EqualTo(Deltas));
            Assert.That(stream.FinishReason, Is.EqualTo("stop"));
            Assert.That(stream.Final.GetProperty("data").GetProperty("contents").GetString(), Is.Empty);
            Assert.That(stream.Final.GetProperty("data").GetProperty("usage").GetProperty("completion_tokens").GetInt32(), Is.EqualTo(3));
            foreach (var f in stream.Frames)
            {
                Assert.That(f.GetProperty("code").GetInt32(), Is.Zero);
                Assert.That(f.GetProperty("msg").GetString(), Is.EqualTo("ok"));
                Assert.That(ConsumeTime().IsMatch(f.GetProperty("data").GetProperty("consume_time").GetString()!), Is.True);
            }
        });

        var sent = upstream.Requests.Single();
        Assert.Multiple(() =>
        {
            Assert.That(sent.Path, Is.EqualTo("/v1/chat/completions"));
            Assert.That(sent.Headers["Authorization"], Is.EqualTo("Bearer sk-test-key-000000000000"));
            Assert.That(sent.Headers["Accept"], Is.EqualTo("text/event-stream"));
            Assert.That(sent.Headers["Content-Type"], Is.EqualTo("application/json"));
            Assert.That(sent.Body.GetProperty("model").GetString(), Is.EqualTo("gpt-3.5-turbo"));
            Assert.That(sent.Body.GetProperty("stream").GetBoolean(), Is.True);
            Assert.That(sent.Body.GetProperty("stream_options").GetProperty("include_usage").GetBoolean(), Is.True);
            Assert.That(sent.Body.GetProperty("messages")[0].GetProperty("content").GetString(), Is.EqualTo("杭州都有什么景色？"));
            // openai_parameter defaults to true: the provider's own defaults apply.
            Assert.That(sent.Body.TryGetProperty("temperature", out _), Is.False);
            Assert.That(sent.Body.TryGetProperty("stop", out _), Is.False);
        });
    }

    [Test, CancelAfter(20000)]
    public async Task ChatRequest_BytesSplitMidCharacter_ArriveIntact(CancellationToken ct)
    {
        // Every SSE byte in its own TCP write: multi-byte UTF-8 and CRLF pairs are cut everywhere.
        var text = "天下🌏 ü, 日本語。Done.";
        await using var upstream = new FakeOpenAiServer(async (req, res) =>
        {
            await res.StartSseAsync();
            var body = new StringBuilder();
            foreach (var piece in new[] { "天下🌏", " ü, ", "日本語。", "Done." })
            {
                body.Append("data: ").Append(JsonSerializer.Serialize(new { choices = new[] { new { delta = new { content = piece } } } })).Append("\r\n\r\n");
            }

            body.Append(": keep-alive comment\r\n\r\ndata:{\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\r\n\r\ndata: [DONE]\r\n\r\n");
            foreach (var b in Encoding.UTF8.GetBytes(body.ToString()))
            {
                await res.WriteRawAsync(new[] { b });
            }
        });
        await using var daemon = await StartDaemonAsync(upstream);
        using var client = await daemon.ConnectAsync(ct);

        await client.SendAsync(new { seq = "u", data = new { query = "x" } }, ct);
        var stream = await client.ReadStreamAsync("u", ct);

        Assert.That(stream.Text, Is.EqualTo(text));
        Assert.That(stream.FinishReason, Is.EqualTo("stop"));
    }

    [Test, CancelAfter(20000)]
    public async Task SentenceMode_SameTextCutIntoPieces_ConcatenationExact(CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer(FakeOpenAiServer.Streams(Deltas));
        await using var daemon = await StartDaemonAsync(upstream);
        using var client = await daemon.ConnectAsync(ct);

        await client.SendAsync(new { seq = "s", data = new { query = "q", origin_stream = false } }, ct);
        var stream = await client.ReadStreamAsync("s", ct);

        Assert.That(stream.Text, Is.EqualTo(string.Concat(Deltas)));
        Assert.That(stream.ContentFrames.First().GetProperty("data").GetProperty("contents").GetString(), Is.EqualTo("杭州有西湖。 "), "white space stays with the piece before it");
        Assert.That(stream.FinishReason, Is.EqualTo("stop"));
    }

    [Test, CancelAfter(20000)]
    public async Task CompletionsModel_GoesToCompletionsWithAliasAndParameters(CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer(FakeOpenAiServer.Streams(["西湖", "。"]));
        await using var daemon = await StartDaemonAsync(upstream, s => s with { ModelAliases = new Dictionary<string, string> { ["text-davinci-003"] = "gpt-3.5-turbo-instruct" } });
        using var client = await daemon.ConnectAsync(ct);

        await client.SendAsync(new { seq = "c", data = new { query = "杭州都有什么景色？", model = "text-davinci-003", openai_parameter = false, temperature = 0.5, best_of = 2 } }, ct);
        var stream = await client.ReadStreamAsync("c", ct);

        var sent = upstream.Requests.Single();
        Assert.Multiple(() =>
        {
            Assert.That(stream.Text, Is.EqualTo("西湖。"));
            Assert.That(sent.Path, Is.EqualTo("/v1/completions"));
            Assert.That(sent.Body.GetProperty("model").GetString(), Is.EqualTo("gpt-3.5-turbo-instruct"));
            Assert.That(sent.Body.GetProperty("prompt").GetString(), Is.EqualTo("杭州都有什么景色？"));
            Assert.That(sent.Body.GetProperty("temperature").GetDouble(), Is.EqualTo(0.5));
            Assert.That(sent.Body.GetProperty("max_tokens").GetInt32(), Is.EqualTo(500));
            Assert.That(sent.Body.GetProperty("best_of").GetInt32(), Is.EqualTo(2));
            Assert.That(sent.Body.GetProperty("stop")[0].GetString(), Is.EqualTo("Human:"));
        });
    }

    [Test, CancelAfter(20000)]
    public async Task ChatModel_OpenAiParameterFalse_SendsEveryParameterButBestOf(CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer(FakeOpenAiServer.Streams(["a"]));
        await using var daemon = await StartDaemonAsync(upstream);
        using var client = await daemon.ConnectAsync(ct);

        await client.SendAsync(new { seq = "p", data = new { query = "q", openai_parameter = false, top_p = 0.3, stop = "END" } }, ct);
        await client.ReadStreamAsync("p", ct);

        var body = upstream.Requests.Single().Body;
        Assert.Multiple(() =>
        {
            Assert.That(body.GetProperty("temperature").GetDouble(), Is.Zero);
            Assert.That(body.GetProperty("top_p").GetDouble(), Is.EqualTo(0.3));
            Assert.That(body.GetProperty("frequency_penalty").GetDouble(), Is.Zero);
            Assert.That(body.GetProperty("presence_penalty").GetDouble(), Is.Zero);
            Assert.That(body.GetProperty("stop")[0].GetString(), Is.EqualTo("END"));
            Assert.That(body.TryGetProperty("best_of", out _), Is.False);
        });
    }

    [Test, CancelAfter(20000)]
    public async Task SeveralSeqsOnOneConnection_FramesInterleaveAndEachStreamIsComplete(CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer(FakeOpenAiServer.Streams(Enumerable.Range(0, 20).Select(i => $"t{i} "), TimeSpan.FromMilliseconds(5)));
        await using var daemon = await StartDaemonAsync(upstream);
        using var client = await daemon.ConnectAsync(ct);

        var seqs = Enumerable.Range(0, 8).Select(i => $"m{i}").ToList();
        foreach (var s in seqs)
        {
            await client.SendAsync(new { seq = s, data = new { query = "q" } }, ct);
        }

        foreach (var s in seqs)
        {
            var stream = await client.ReadStreamAsync(s, ct);
            Assert.That(stream.Text, Is.EqualTo(string.Concat(Enumerable.Range(0, 20).Select(i => $"t{i} "))), s);
        }
    }

    [Test, CancelAfter(20000)]
    public async Task NumericSeq_IsEchoedAsTheSameNumber(CancellationToken ct)
    {
        await using var daemon = await StartDemoDaemonAsync();
        using var client = await daemon.ConnectAsync(ct);

        await client.SendAsync("{\"seq\": 12345678901234567890, \"data\": {\"query\": \"hi\"}}", ct);
        var frame = (await client.ReceiveAsync(ct))!.Value;

        Assert.That(frame.GetProperty("seq").GetRawText(), Is.EqualTo("12345678901234567890"));
    }

    [Test, CancelAfter(20000)]
    public async Task DemoUpstream_SeedExamples_StreamTheDemoAnswerInBothModes(CancellationToken ct)
    {
        await using var daemon = await StartDemoDaemonAsync();
        using var client = await daemon.ConnectAsync(ct);

        await client.SendAsync("{\"seq\":\"d1\",\"data\":{\"query\":\"杭州都有什么景色？\",\"model\":\"text-davinci-003\"}}", ct);
        await client.SendAsync("""
            {"seq":"d2","data":{"query":"","messages":[{"role":"system","content":"AI只能用中文回复\n这是Human和AI之间的对话"},
            {"role":"user","content":"你是哪里人？"},{"role":"assistant","content":"我是杭州人。"},{"role":"user","content":"杭州都有什么景色？"}],
            "model":"gpt-3.5-turbo","origin_stream":false}}
            """, ct);
        var first = await client.ReadStreamAsync("d1", ct);
        var second = await client.ReadStreamAsync("d2", ct);

        var expected = DemoUpstream.AnswerFor(new ChatRequest { Seq = RequestSeq.FromString("x"), Model = "m", UpstreamModel = "m", Messages = [new ChatMessage("user", "杭州都有什么景色？")] });
        Assert.Multiple(() =>
        {
            Assert.That(first.Text, Is.EqualTo(expected));
            Assert.That(second.Text, Is.EqualTo(expected));
            Assert.That(first.ContentFrames.Count(), Is.GreaterThan(50), "origin_stream=true relays token by token");
            Assert.That(second.ContentFrames.Count(), Is.InRange(4, 40), "origin_stream=false relays short sentences");
            Assert.That(first.FinishReason, Is.EqualTo("stop"));
            Assert.That(second.FinishReason, Is.EqualTo("stop"));
        });
    }

    [Test, CancelAfter(20000)]
    public async Task SegmentTts_DemoAnswer_ShortFirstPieceThenWholeSentences(CancellationToken ct)
    {
        await using var daemon = await StartDemoDaemonAsync();
        using var client = await daemon.ConnectAsync(ct);
        await client.SendAsync(new { seq = "tts", data = new { query = "杭州都有什么景色？", origin_stream = false, segment = "tts" } }, ct);
        await client.SendAsync(new { seq = "clause", data = new { query = "杭州都有什么景色？", origin_stream = false, segment = "clause" } }, ct);
        var tts = await client.ReadStreamAsync("tts", ct);
        var clause = await client.ReadStreamAsync("clause", ct);

        var pieces = tts.ContentFrames.Select(f => f.GetProperty("data").GetProperty("contents").GetString()!).ToList();
        var expected = DemoUpstream.AnswerFor(new ChatRequest { Seq = RequestSeq.FromString("x"), Model = "m", UpstreamModel = "m", Messages = [new ChatMessage("user", "杭州都有什么景色？")] });
        Assert.Multiple(() =>
        {
            Assert.That(tts.Text, Is.EqualTo(expected), "the frames concatenate to the answer");
            Assert.That(TtsLimits.Weight(pieces[0]), Is.InRange(6, 40), "a short first piece: " + pieces[0]);
            Assert.That(pieces.Skip(1).SkipLast(1).All(p => TtsLimits.Weight(p) >= 20), Is.True, string.Join(" | ", pieces));
            Assert.That(pieces, Has.Count.LessThan(clause.ContentFrames.Count()), "fewer, longer pieces than clause mode");
        });
    }

    [GeneratedRegex(@"^\d+\.\d\d$")]
    private static partial Regex ConsumeTime();
}
