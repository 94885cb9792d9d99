using System.Text;
using GptWsDaemon.Config;
using GptWsDaemon.Protocol;
using GptWsDaemon.Tests.Support;
using GptWsDaemon.Upstream.Providers;

namespace GptWsDaemon.Tests.Server;

/// <summary>
/// The native Anthropic dialect (protocol.md §2 "Providers", kind anthropic) against a loopback server speaking the
/// Messages API's streaming format as its documentation shows it: typed events with an <c>event:</c> line, a ping,
/// block start/stop, usage in message_start and message_delta, message_stop and no [DONE].
/// </summary>
[Category("loopback")]
[TestFixture]
public sealed class AnthropicDialectTests
{
    private const string Key = "sk-ant-api03-test-key-000000000000k1ab";
    private static readonly string[] Deltas = ["Hello", "，杭州", " 🌸", "!"];

    /// <summary>A documented stream: message_start, content_block_start, ping, the deltas, content_block_stop, message_delta, message_stop.</summary>
    public static Func<FakeRequest, FakeResponse, Task> Streams(IEnumerable<string> deltas, string stopReason = "end_turn") => async (req, res) =>
    {
        await res.StartSseAsync();
        await EventAsync(res, "message_start", """{"type":"message_start","message":{"id":"msg_01","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":5,"output_tokens":1}}}""");
        await EventAsync(res, "content_block_start", """{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}""");
        await EventAsync(res, "ping", """{"type": "ping"}""");
        foreach (var d in deltas)
        {
            await EventAsync(res, "content_block_delta", """{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":""" + System.Text.Json.JsonSerializer.Serialize(d) + "}}");
        }

        await EventAsync(res, "content_block_stop", """{"type":"content_block_stop","index":0}""");
        await EventAsync(res, "message_delta", "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"" + stopReason + "\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}");
        await EventAsync(res, "message_stop", """{"type":"message_stop"}""");
    };

    public static Task EventAsync(FakeResponse res, string name, string json) => res.WriteRawAsync(Encoding.UTF8.GetBytes($"event: {name}\ndata: {json}\n\n"));

    [Test, CancelAfter(20000)]
    public async Task Stream_TextUsageFinish_HeadersAndBodyAsTheApiWants(CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer(Streams(Deltas));
        await using var daemon = await StartAsync(upstream);
        using var client = await daemon.ConnectAsync(ct);
        await client.SendAsync(new { seq = "a", data = new { model = "claude-sonnet-4-5", messages = new[] { new { role = "system", content = "be brief" }, new { role = "user", content = "hi" }, new { role = "assistant", content = "hello" } }, query = "杭州?" } }, ct);
        var stream = await client.ReadStreamAsync("a", ct);

        var request = upstream.Requests.Single();
        var usage = stream.Final.GetProperty("data").GetProperty("usage");
        Assert.Multiple(() =>
        {
            Assert.That((stream.Code, stream.Text, stream.FinishReason), Is.EqualTo((0, "Hello，杭州 🌸!", "stop")));
            Assert.That((usage.GetProperty("prompt_tokens").GetInt32(), usage.GetProperty("completion_tokens").GetInt32()), Is.EqualTo((30, 15)), "prompt = input + cached tokens");
            Assert.That(stream.Final.GetProperty("data").GetProperty("provider").GetString(), Is.EqualTo("claude"));
            Assert.That(stream.Final.GetProperty("data").GetProperty("key_id").GetString(), Is.EqualTo("…k1ab"));
            Assert.That(request.Path, Is.EqualTo("/v1/messages"));
            Assert.That(request.Headers["x-api-key"], Is.EqualTo(Key));
            Assert.That(request.Headers["anthropic-version"], Is.EqualTo("2023-06-01"));
            Assert.That(request.Headers.ContainsKey("Authorization"), Is.False);
            Assert.That(request.Body.GetProperty("system").GetString(), Is.EqualTo("be brief"));
            Assert.That(request.Body.GetProperty("messages").GetRawText(), Is.EqualTo("""[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"},{"role":"user","content":"杭州?"}]""").Or.EqualTo("""[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"},{"role":"user","content":"\u676D\u5DDE?"}]"""));
            Assert.That(request.Body.GetProperty("max_tokens").GetInt32(), Is.EqualTo(4000), "required by the API: limits.max_tokens when the client leaves sampling to the provider");
            Assert.That(request.Body.GetProperty("stream").GetBoolean(), Is.True);
            Assert.That(request.Body.TryGetProperty("temperature", out _), Is.False);
            Assert.That(request.Body.TryGetProperty("stream_options", out _), Is.False, "an OpenAI field the Messages API rejects");
        });
    }

    [Test, CancelAfter(20000)]
    public async Task OpenAiParameterFalse_SendsWhatTheApiKnows_MaxTokensStopIsLength(CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer(Streams(["cut"], stopReason: "max_tokens"));
        await using var daemon = await StartAsync(upstream);
        using var client = await daemon.ConnectAsync(ct);
        await client.SendAsync(new { seq = "p", data = new { model = "claude-x", query = "q", openai_parameter = false, temperature = 0.5, max_tokens = 64, stop = new[] { "END" }, presence_penalty = 1 } }, ct);
        var stream = await client.ReadStreamAsync("p", ct);

        var body = upstream.Requests.Single().Body;
        Assert.Multiple(() =>
        {
            Assert.That((stream.Text, stream.FinishReason), Is.EqualTo(("cut", "length")));
            Assert.That(body.GetProperty("max_tokens").GetInt32(), Is.EqualTo(64));
            Assert.That(body.GetProperty("temperature").GetDouble(), Is.EqualTo(0.5));
            Assert.That(body.GetProperty("top_p").GetDouble(), Is.EqualTo(1));
            Assert.That(body.GetProperty("stop_sequences")[0].GetString(), Is.EqualTo("END"));
            Assert.That(body.TryGetProperty("presence_penalty", out _), Is.False);
            Assert.That(body.TryGetProperty("system", out _), Is.False);
        });
    }

    [Test, CancelAfter(20000)]
    public async Task ErrorEventMidStream_IsAnErrorFrame_AfterTheTextSoFar(CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer(async (req, res) =>
        {
            await res.StartSseAsync();
            await EventAsync(res, "message_start", """{"type":"message_start","message":{"usage":{"input_tokens":3,"output_tokens":1}}}""");
            await EventAsync(res, "content_block_delta", """{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"partial"}}""");
            await EventAsync(res, "error", """{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}""");
        });
        await using var daemon = await StartAsync(upstream);
        using var client = await daemon.ConnectAsync(ct);
        await client.SendAsync(new { seq = "e", data = new { model = "claude-x", query = "q" } }, ct);
        var stream = await client.ReadStreamAsync("e", ct);

        Assert.Multiple(() =>
        {
            Assert.That((stream.Text, stream.Code), Is.EqualTo(("partial", ErrorCodes.UpstreamBroken)));
            Assert.That(stream.Message, Is.EqualTo("upstream sent an error mid-stream: Overloaded"));
            Assert.That(stream.Final.GetProperty("data").GetProperty("upstream_code").GetString(), Is.EqualTo("overloaded_error"));
        });
    }

    [TestCase(401, "authentication_error", "invalid x-api-key", ErrorCodes.UpstreamAuth)]
    [TestCase(400, "invalid_request_error", "max_tokens: 100000 > 64000", ErrorCodes.UpstreamError)]
    [TestCase(529, "overloaded_error", "Overloaded", ErrorCodes.UpstreamError)]
    public async Task ErrorResponse_AnthropicBody_CodeAndMessage(int status, string type, string message, int code)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var ct = cts.Token;
        await using var upstream = new FakeOpenAiServer(async (req, res) =>
        {
            var body = Encoding.UTF8.GetBytes($$"""{"type":"error","error":{"type":"{{type}}","message":"{{message}}"},"request_id":"req_011"}""");
            await res.SendHeadAsync(status, "application/json", new Dictionary<string, string> { ["Content-Length"] = body.Length.ToString() });
            await res.WriteRawAsync(body);
        });
        await using var daemon = await StartAsync(upstream, s => s with { MaxRetries = 0 });
        using var client = await daemon.ConnectAsync(ct);
        await client.SendAsync(new { seq = "x", data = new { model = "claude-x", query = "q" } }, ct);
        var stream = await client.ReadStreamAsync("x", ct);

        Assert.Multiple(() =>
        {
            Assert.That(stream.Code, Is.EqualTo(code));
            Assert.That(stream.Message, Does.Contain($"({status})").And.Contain(message));
            Assert.That(stream.Final.GetProperty("data").GetProperty("upstream_code").GetString(), Is.EqualTo(type));
            Assert.That(stream.Message, Does.Not.Contain(Key));
        });
    }

    [Test, CancelAfter(20000)]
    public async Task StreamEndsWithoutMessageStop_Code2005NamingIt(CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer(async (req, res) =>
        {
            await res.StartSseAsync();
            await EventAsync(res, "content_block_delta", """{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"so far"}}""");
        });
        await using var daemon = await StartAsync(upstream);
        using var client = await daemon.ConnectAsync(ct);
        await client.SendAsync(new { seq = "t", data = new { model = "claude-x", query = "q" } }, ct);
        var stream = await client.ReadStreamAsync("t", ct);

        Assert.That((stream.Text, stream.Code, stream.Message), Is.EqualTo(("so far", ErrorCodes.UpstreamBroken, "upstream stream ended before message_stop")));
    }

    private static Task<DaemonFixture> StartAsync(FakeOpenAiServer upstream, Func<DaemonSettings, DaemonSettings>? more = null) =>
        DaemonFixture.StartAsync(upstream, s => (more ?? (x => x))(s with
        {
            ApiKey = null,
            ExtraProviders = [new ProviderSettings { Name = "claude", Kind = ProviderKind.Anthropic, BaseUrl = upstream.Root, ApiKeys = [Key] }],
        }));
}
