using System.Text;
using GptWsDaemon.Config;
using GptWsDaemon.Protocol;
using GptWsDaemon.Tests.Support;
using GptWsDaemon.Upstream.Providers;

namespace GptWsDaemon.Tests.Server;

/// <summary>
/// A provider with <c>api = responses</c> (protocol.md §9): the Responses API's typed events from response.created to
/// response.completed, as its documentation shows them, driven through real WebSocket clients.
/// </summary>
[Category("loopback")]
[TestFixture]
public sealed class ResponsesDialectTests
{
    private static Task EventAsync(FakeResponse res, string json)
    {
        var type = System.Text.Json.JsonDocument.Parse(json).RootElement.GetProperty("type").GetString();
        return res.WriteRawAsync(Encoding.UTF8.GetBytes($"event: {type}\ndata: {json}\n\n"));
    }

    private static Func<FakeRequest, FakeResponse, Task> Events(params string[] events) => async (req, res) =>
    {
        await res.StartSseAsync();
        foreach (var e in events)
        {
            await EventAsync(res, e);
        }
    };

    private static string Text(string delta) => $$"""{"type":"response.output_text.delta","item_id":"msg_1","output_index":1,"content_index":0,"delta":{{System.Text.Json.JsonSerializer.Serialize(delta)}},"sequence_number":5}""";

    private const string Created = """{"type":"response.created","response":{"id":"resp_1","object":"response","status":"in_progress","output":[]},"sequence_number":0}""";

    private const string Completed = """{"type":"response.completed","response":{"id":"resp_1","status":"completed","usage":{"input_tokens":36,"input_tokens_details":{"cached_tokens":4},"output_tokens":87,"output_tokens_details":{"reasoning_tokens":64},"total_tokens":123}},"sequence_number":20}""";

    [TestCase(true)]
    [TestCase(false)]
    [CancelAfter(20000)]
    public async Task CreatedToCompleted_TextReasoningToolCallsUsage_AndTheInputItems(bool origin, CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer(Events(
            Created,
            """{"type":"response.in_progress","response":{"id":"resp_1","status":"in_progress"},"sequence_number":1}""",
            """{"type":"response.output_item.added","output_index":0,"item":{"id":"rs_1","type":"reasoning","summary":[]},"sequence_number":2}""",
            """{"type":"response.reasoning_summary_text.delta","item_id":"rs_1","output_index":0,"summary_index":0,"delta":"Thinking about 杭州.","sequence_number":3}""",
            """{"type":"response.output_item.added","output_index":1,"item":{"id":"msg_1","type":"message","status":"in_progress","role":"assistant","content":[]},"sequence_number":4}""",
            """{"type":"response.content_part.added","item_id":"msg_1","output_index":1,"content_index":0,"part":{"type":"output_text","text":""},"sequence_number":4}""",
            Text("西湖很美。"), Text(" Lovely."),
            """{"type":"response.output_text.done","item_id":"msg_1","output_index":1,"content_index":0,"text":"西湖很美。 Lovely.","sequence_number":6}""",
            """{"type":"response.output_item.added","output_index":2,"item":{"type":"function_call","id":"fc_1","call_id":"call_x","name":"get_weather","arguments":""},"sequence_number":7}""",
            """{"type":"response.function_call_arguments.delta","item_id":"fc_1","output_index":2,"delta":"{\"city\":","sequence_number":8}""",
            """{"type":"response.function_call_arguments.delta","item_id":"fc_1","output_index":2,"delta":"\"杭州\"}","sequence_number":9}""",
            """{"type":"response.function_call_arguments.done","item_id":"fc_1","output_index":2,"arguments":"{\"city\":\"杭州\"}","sequence_number":10}""",
            Completed));
        await using var daemon = await StartAsync(upstream);
        using var client = await daemon.ConnectAsync(ct);
        await client.SendAsync(new
        {
            seq = "r",
            data = new
            {
                model = "gpt-5.1", origin_stream = origin, reasoning = true, reasoning_effort = "low", openai_parameter = false, max_tokens = 300,
                tools = new[] { new { type = "function", name = "get_weather", parameters = new { type = "object" } } },
                messages = new object[]
                {
                    new { role = "system", content = "be brief" },
                    new { role = "user", content = new object[] { new { type = "text", text = "这是哪里？" }, new { type = "image_url", image_url = new { url = "https://example.com/a.png" } } } },
                    new { role = "assistant", content = (string?)null, tool_calls = new[] { new { id = "call_0", type = "function", function = new { name = "look", arguments = "{}" } } } },
                    new { role = "tool", tool_call_id = "call_0", content = "a lake" },
                },
            },
        }, ct);
        var stream = await client.ReadStreamAsync("r", ct);

        var request = upstream.Requests.Single();
        var body = request.Body;
        var data = stream.Final.GetProperty("data");
        Assert.Multiple(() =>
        {
            Assert.That((stream.Code, stream.FinishReason), Is.EqualTo((0, "tool_calls")), stream.Message);
            Assert.That(stream.Text, Is.EqualTo("西湖很美。 Lovely."));
            Assert.That(stream.ContentFrames.Where(f => f.GetProperty("data").TryGetProperty("reasoning", out _)).Select(f => f.GetProperty("data").GetProperty("reasoning").GetString()), Is.EqualTo(new[] { "Thinking about 杭州." }));
            Assert.That(data.GetProperty("tool_calls").GetRawText(), Is.EqualTo("""[{"id":"call_x","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"杭州\"}"}}]"""));
            Assert.That(data.GetProperty("usage").GetProperty("prompt_tokens").GetInt32(), Is.EqualTo(36));
            Assert.That(data.GetProperty("usage").GetProperty("completion_tokens").GetInt32(), Is.EqualTo(87));
            Assert.That(data.GetProperty("usage").GetProperty("completion_tokens_details").GetProperty("reasoning_tokens").GetInt32(), Is.EqualTo(64));
            Assert.That(data.GetProperty("usage").GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32(), Is.EqualTo(4));
            Assert.That(request.Path, Is.EqualTo("/v1/responses"));
            Assert.That(request.Headers["Authorization"], Is.EqualTo("Bearer sk-responses-key-000000000001"));
            Assert.That(body.GetProperty("stream").GetBoolean(), Is.True);
            Assert.That(body.GetProperty("max_output_tokens").GetInt32(), Is.EqualTo(300));
            Assert.That(body.TryGetProperty("temperature", out _), Is.False, "gpt-5: the seed's defaults are not sent");
            Assert.That(body.GetProperty("reasoning").GetRawText(), Is.EqualTo("""{"effort":"low","summary":"auto"}"""));
            Assert.That(body.GetProperty("tools")[0].GetProperty("name").GetString(), Is.EqualTo("get_weather"));
            var input = body.GetProperty("input");
            Assert.That(input[0].GetRawText(), Is.EqualTo("""{"role":"system","content":"be brief"}"""));
            Assert.That(input[1].GetProperty("content")[0].GetProperty("type").GetString(), Is.EqualTo("input_text"));
            Assert.That(input[1].GetProperty("content")[1].GetProperty("type").GetString(), Is.EqualTo("input_image"));
            Assert.That(input[1].GetProperty("content")[1].GetProperty("image_url").GetString(), Is.EqualTo("https://example.com/a.png"));
            Assert.That(input[2].GetProperty("type").GetString(), Is.EqualTo("function_call"));
            Assert.That(input[2].GetProperty("call_id").GetString(), Is.EqualTo("call_0"));
            Assert.That(input[3].GetRawText(), Is.EqualTo("""{"type":"function_call_output","call_id":"call_0","output":"a lake"}"""));
        });
    }

    [Test, CancelAfter(20000)]
    public async Task Incomplete_AtTheOutputCap_IsLength(CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer(Events(Created, Text("cut "), Text("short"),
            """{"type":"response.incomplete","response":{"id":"resp_1","status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"usage":{"input_tokens":3,"output_tokens":16,"total_tokens":19}},"sequence_number":9}"""));
        await using var daemon = await StartAsync(upstream);
        using var client = await daemon.ConnectAsync(ct);
        await client.SendAsync(new { seq = "i", data = new { query = "q", model = "gpt-4.1" } }, ct);
        var stream = await client.ReadStreamAsync("i", ct);
        Assert.That((stream.Code, stream.Text, stream.FinishReason), Is.EqualTo((0, "cut short", "length")));
    }

    [TestCase("""{"type":"response.failed","response":{"id":"resp_1","status":"failed","error":{"code":"server_error","message":"The model failed."}},"sequence_number":3}""", ErrorCodes.UpstreamBroken, "The model failed.")]
    [TestCase("""{"type":"error","code":"rate_limit_exceeded","message":"Rate limit reached for gpt-4.1","param":null,"sequence_number":3}""", ErrorCodes.UpstreamRateLimit, "Rate limit reached for gpt-4.1")]
    public async Task FailedOrError_TheMatchingCode_AfterTheTextSoFar(string ev, int code, string message)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await using var upstream = new FakeOpenAiServer(Events(Created, Text("partial"), ev));
        await using var daemon = await StartAsync(upstream);
        using var client = await daemon.ConnectAsync(cts.Token);
        await client.SendAsync(new { seq = "f", data = new { query = "q", model = "gpt-4.1" } }, cts.Token);
        var stream = await client.ReadStreamAsync("f", cts.Token);
        Assert.Multiple(() =>
        {
            Assert.That((stream.Text, stream.Code), Is.EqualTo(("partial", code)));
            Assert.That(stream.Message, Does.Contain(message));
        });
    }

    [Test, CancelAfter(20000)]
    public async Task FieldTheApiDoesNotHave_Code1004_NoUpstreamCall(CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer(Events(Created, Completed));
        await using var daemon = await StartAsync(upstream);
        using var client = await daemon.ConnectAsync(ct);
        await client.SendAsync(new { seq = "x", data = new { query = "q", model = "gpt-4.1", logit_bias = new Dictionary<string, int> { ["1"] = 2 } } }, ct);
        var stream = await client.ReadStreamAsync("x", ct);
        Assert.Multiple(() =>
        {
            Assert.That((stream.Code, stream.Message), Is.EqualTo((ErrorCodes.BadParameter, "logit_bias: the Responses API of provider resp has no such field")));
            Assert.That(upstream.Requests, Is.Empty);
        });
    }

    private static Task<DaemonFixture> StartAsync(FakeOpenAiServer upstream) =>
        DaemonFixture.StartAsync(upstream, s => s with
        {
            ApiKey = null,
            ExtraProviders = [new ProviderSettings { Name = "resp", BaseUrl = upstream.BaseUrl, Api = ProviderApi.Responses, ApiKeys = ["sk-responses-key-000000000001"] }],
        });
}
