using System.Text.Json;
using GptWsDaemon.Config;
using GptWsDaemon.Protocol;
using GptWsDaemon.Tests.Support;

namespace GptWsDaemon.Tests.Server;

/// <summary>
/// protocol.md §4.1 and §5 for today's models, against loopback upstreams streaming each shape: reasoning-model
/// request rules, messages with parts and tools, pass-through fields, reasoning, refusals, tool calls, usage details
/// and the provider quirks that must stay harmless — through real WebSocket clients, in both origin_stream modes.
/// </summary>
[Category("loopback")]
[TestFixture]
public sealed class ModernModelTests
{
    private static Func<FakeRequest, FakeResponse, Task> Events(params string[] events) => Events(TimeSpan.Zero, events);

    private static Func<FakeRequest, FakeResponse, Task> Events(TimeSpan gap, params string[] events) => async (req, res) =>
    {
        await res.StartSseAsync();
        foreach (var e in events)
        {
            await res.SendEventAsync(e);
            if (gap > TimeSpan.Zero)
            {
                await Task.Delay(gap, res.Aborted);
            }
        }
    };

    private static string Delta(string field, string value) => $$"""{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"{{field}}":{{JsonSerializer.Serialize(value)}}},"finish_reason":null}]}""";

    private static string Finish(string reason) => $$"""{"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"{{reason}}"}]}""";

    private static async Task<(StreamResult Stream, FakeRequest Request)> AskAsync(Func<FakeRequest, FakeResponse, Task> script, object data, CancellationToken ct, Func<DaemonSettings, DaemonSettings>? configure = null)
    {
        await using var upstream = new FakeOpenAiServer(script);
        await using var daemon = await DaemonFixture.StartAsync(upstream, configure);
        using var client = await daemon.ConnectAsync(ct);
        await client.SendAsync(new { seq = "m", data }, ct);
        var stream = await client.ReadStreamAsync("m", ct);
        return (stream, upstream.Requests.Count > 0 ? upstream.Requests[0] : null!);
    }

    private static readonly Func<FakeRequest, FakeResponse, Task> Ok = Events(Delta("content", "ok"), Finish("stop"), "[DONE]");

    [TestCase("gpt-5.1", true)]
    [TestCase("o3-mini", true)]
    [TestCase("o1", true)]
    [TestCase("o4-mini", true)]
    [TestCase("gpt-4o", false)]
    [CancelAfter(20000)]
    public async Task OpenAiParameterFalse_ReasoningModelsGetOnlyWhatTheClientSet_InMaxCompletionTokens(string model, bool reasoning, CancellationToken ct)
    {
        var (set, setRequest) = await AskAsync(Ok, new { query = "q", model, openai_parameter = false, temperature = 0.3, max_tokens = 800, reasoning_effort = "high" }, ct);
        var (_, defaultsRequest) = await AskAsync(Ok, new { query = "q", model, openai_parameter = false }, ct);
        var body = setRequest.Body;
        var defaults = defaultsRequest.Body;

        Assert.Multiple(() =>
        {
            Assert.That(set.Code, Is.Zero, set.Message);
            Assert.That(body.GetProperty("temperature").GetDouble(), Is.EqualTo(0.3), "a value the client set always goes");
            Assert.That(body.GetProperty(reasoning ? "max_completion_tokens" : "max_tokens").GetInt32(), Is.EqualTo(800));
            Assert.That(body.TryGetProperty(reasoning ? "max_tokens" : "max_completion_tokens", out _), Is.False);
            Assert.That(body.GetProperty("reasoning_effort").GetString(), Is.EqualTo("high"));
            Assert.That(body.TryGetProperty("top_p", out _), Is.EqualTo(!reasoning), "the seed's defaults: only for models that take them");
            Assert.That(defaults.TryGetProperty("temperature", out _), Is.EqualTo(!reasoning));
            Assert.That(defaults.TryGetProperty("max_tokens", out _), Is.EqualTo(!reasoning));
            Assert.That(defaults.TryGetProperty("max_completion_tokens", out _), Is.False);
            Assert.That(defaults.TryGetProperty("stop", out _), Is.EqualTo(!reasoning));
            Assert.That(defaults.TryGetProperty("frequency_penalty", out _), Is.EqualTo(!reasoning));
        });
    }

    [Test, CancelAfter(20000)]
    public async Task ModelRuleInIni_AppliesToItsPattern(CancellationToken ct)
    {
        var rules = new List<GptWsDaemon.Upstream.Providers.ModelRule>(GptWsDaemon.Upstream.Providers.ModelRule.BuiltIn) { new("deepseek-reasoner", "max_tokens", true) };
        var (_, request) = await AskAsync(Ok, new { query = "q", model = "deepseek-reasoner", openai_parameter = false, max_tokens = 100 }, ct, s => s with { ModelRules = rules });
        Assert.Multiple(() =>
        {
            Assert.That(request.Body.GetProperty("max_tokens").GetInt32(), Is.EqualTo(100));
            Assert.That(request.Body.TryGetProperty("temperature", out _), Is.False);
        });
    }

    [Test, CancelAfter(20000)]
    public async Task PassThroughFields_ForwardedExactlyAsWritten(CancellationToken ct)
    {
        var fields = new Dictionary<string, string>
        {
            ["tools"] = """[{"type":"function","function":{"name":"get_weather","description":"天气","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}]""",
            ["tool_choice"] = """{"type":"function","function":{"name":"get_weather"}}""",
            ["parallel_tool_calls"] = "false",
            ["response_format"] = """{"type":"json_schema","json_schema":{"name":"w","schema":{"type":"object"}}}""",
            ["seed"] = "42",
            ["user"] = "\"user-7\"",
            ["logit_bias"] = """{"50256":-100}""",
            ["logprobs"] = "true",
            ["top_logprobs"] = "3",
            ["service_tier"] = "\"flex\"",
            ["metadata"] = """{"app":"tts"}""",
            ["store"] = "false",
            ["prediction"] = """{"type":"content","content":"x"}""",
        };
        var data = "{\"query\":\"q\",\"model\":\"gpt-4o\"," + string.Join(",", fields.Select(f => $"\"{f.Key}\":{f.Value}")) + "}";
        await using var upstream = new FakeOpenAiServer(Ok);
        await using var daemon = await DaemonFixture.StartAsync(upstream);
        using var client = await daemon.ConnectAsync(ct);
        await client.SendAsync("{\"seq\":\"p\",\"data\":" + data + "}", ct);
        var stream = await client.ReadStreamAsync("p", ct);

        var body = upstream.Requests.Single().Body;
        Assert.Multiple(() =>
        {
            Assert.That(stream.Code, Is.Zero, stream.Message);
            foreach (var (name, json) in fields)
            {
                Assert.That(body.GetProperty(name).GetRawText(), Is.EqualTo(json), name);
            }
        });
    }

    [TestCase("""{"query":"q","n":2}""", "n: must be 1")]
    [TestCase("""{"query":"q","reasoning_effort":"extreme"}""", "reasoning_effort: must be none, minimal, low, medium, high or xhigh, not \"extreme\"")]
    [TestCase("""{"query":"q","tools":{"a":1}}""", "tools: must be an array")]
    [TestCase("""{"query":"q","seed":"x"}""", "seed: must be a number")]
    [TestCase("""{"query":"q","extra_body":{"enable_thinking":false}}""", "extra_body: not allowed by this daemon (openai.allow_extra_body is false)")]
    public async Task BadModernField_Code1004NamingIt_NoUpstreamCall(string data, string message)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await using var upstream = new FakeOpenAiServer(Ok);
        await using var daemon = await DaemonFixture.StartAsync(upstream);
        using var client = await daemon.ConnectAsync(cts.Token);
        await client.SendAsync("{\"seq\":\"b\",\"data\":" + data + "}", cts.Token);
        var stream = await client.ReadStreamAsync("b", cts.Token);
        Assert.Multiple(() =>
        {
            Assert.That(stream.Code, Is.EqualTo(ErrorCodes.BadParameter));
            Assert.That(stream.Message, Does.StartWith(message));
            Assert.That(upstream.Requests, Is.Empty);
        });
    }

    [Test, CancelAfter(20000)]
    public async Task ExtraBody_WhenAllowed_MergedIntoTheBody_ButNeverOverTheDaemonsFields(CancellationToken ct)
    {
        var (stream, request) = await AskAsync(Ok, new { query = "q", model = "qwen-plus", extra_body = new { enable_thinking = false, thinking_budget = 50 } }, ct, s => s with { AllowExtraBody = true });
        var (refused, _) = await AskAsync(Ok, new { query = "q", extra_body = new { stream = false } }, ct, s => s with { AllowExtraBody = true });
        Assert.Multiple(() =>
        {
            Assert.That(stream.Code, Is.Zero);
            Assert.That(request.Body.GetProperty("enable_thinking").GetBoolean(), Is.False);
            Assert.That(request.Body.GetProperty("thinking_budget").GetInt32(), Is.EqualTo(50));
            Assert.That((refused.Code, refused.Message), Is.EqualTo((ErrorCodes.BadParameter, "extra_body.stream: set by the daemon or a request field of its own; extra_body adds provider switches only")));
        });
    }

    [Test, CancelAfter(20000)]
    public async Task Messages_PartsToolCallsAndResults_ForwardedAsGiven(CancellationToken ct)
    {
        const string Parts = """[{"type":"text","text":"这是什么？"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"low"}}]""";
        const string Calls = """[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"杭州\"}"}}]""";
        var data = $$"""{"model":"gpt-4o","messages":[{"role":"developer","content":"be brief"},{"role":"user","content":{{Parts}}},{"role":"assistant","content":null,"tool_calls":{{Calls}}},{"role":"tool","tool_call_id":"call_1","content":"晴，22°C"}]}""";
        await using var upstream = new FakeOpenAiServer(Ok);
        await using var daemon = await DaemonFixture.StartAsync(upstream);
        using var client = await daemon.ConnectAsync(ct);
        await client.SendAsync("{\"seq\":\"i\",\"data\":" + data + "}", ct);
        var stream = await client.ReadStreamAsync("i", ct);

        var messages = upstream.Requests.Single().Body.GetProperty("messages");
        Assert.Multiple(() =>
        {
            Assert.That(stream.Code, Is.Zero, stream.Message);
            Assert.That(messages[0].GetRawText(), Is.EqualTo("""{"role":"developer","content":"be brief"}"""));
            Assert.That(messages[1].GetProperty("content").GetRawText(), Is.EqualTo(Parts), "parts forwarded as the client wrote them");
            Assert.That(messages[2].GetProperty("content").ValueKind, Is.EqualTo(JsonValueKind.Null));
            Assert.That(messages[2].GetProperty("tool_calls").GetRawText(), Is.EqualTo(Calls));
            Assert.That(messages[3].GetProperty("tool_call_id").GetString(), Is.EqualTo("call_1"));
            Assert.That(messages[3].GetProperty("content").GetString(), Is.EqualTo("晴，22°C"));
        });
    }

    [TestCase("reasoning_content", true, true)]
    [TestCase("reasoning_content", false, true)]
    [TestCase("reasoning", true, true)]
    [TestCase("reasoning", false, false)]
    [TestCase("reasoning_content", true, false)]
    [CancelAfter(20000)]
    public async Task Reasoning_EitherName_RelayedOnlyWhenAsked_NeverInContents(string field, bool origin, bool relay, CancellationToken ct)
    {
        string[] thoughts = ["首先，", "用户问天气。", " So I answer."];
        var script = Events([.. thoughts.Select(t => Delta(field, t)), Delta("content", "杭州今天晴。"), Delta("content", "气温二十度。"), Finish("stop"), "[DONE]"]);
        var (stream, _) = await AskAsync(script, new { query = "q", model = "deepseek-reasoner", origin_stream = origin, reasoning = relay }, ct);

        var reasoningFrames = stream.ContentFrames.Where(f => f.GetProperty("data").TryGetProperty("reasoning", out _)).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(stream.Code, Is.Zero, stream.Message);
            Assert.That(stream.Text, Is.EqualTo("杭州今天晴。气温二十度。"), "contents hold the answer only");
            Assert.That(reasoningFrames.Select(f => f.GetProperty("data").GetProperty("reasoning").GetString()), Is.EqualTo(relay ? thoughts : Array.Empty<string>()), "one frame per delta, never segmented");
            Assert.That(reasoningFrames.Select(f => f.GetProperty("data").GetProperty("contents").GetString()), Has.All.Empty);
        });
    }

    [Test, CancelAfter(20000)]
    public async Task ThinkingModel_SilentInContentsPastTheFirstTokenTimeout_ButReasoning_IsNotCut(CancellationToken ct)
    {
        var script = Events(TimeSpan.FromMilliseconds(300), [.. Enumerable.Range(0, 8).Select(i => Delta("reasoning_content", $"step {i}. ")), Delta("content", "done"), Finish("stop"), "[DONE]"]);
        var (stream, _) = await AskAsync(script, new { query = "q", model = "qwq-32b" }, ct, s => s with { FirstTokenTimeout = TimeSpan.FromSeconds(1), UpstreamIdleTimeout = TimeSpan.FromSeconds(3) });
        Assert.That((stream.Code, stream.Text), Is.EqualTo((0, "done")), stream.Message);
    }

    [TestCase(true)]
    [TestCase(false)]
    [CancelAfter(20000)]
    public async Task Refusal_SpokenInContents_FinalSaysRefusal(bool origin, CancellationToken ct)
    {
        var script = Events(Delta("refusal", "I'm sorry, "), Delta("refusal", "I cannot help with that."), Finish("stop"), "[DONE]");
        var (stream, _) = await AskAsync(script, new { query = "q", model = "gpt-4o", origin_stream = origin }, ct);
        Assert.Multiple(() =>
        {
            Assert.That(stream.Text, Is.EqualTo("I'm sorry, I cannot help with that."));
            Assert.That(stream.Final.GetProperty("data").GetProperty("refusal").GetBoolean(), Is.True);
        });
    }

    public static IEnumerable<TestCaseData> ToolCallShapes()
    {
        const string Expected = """[{"id":"call_a","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},{"id":"call_b","type":"function","function":{"name":"get_time","arguments":"{\"tz\":\"CET\"}"}}]""";
        string Fragment(int index, string? id, string? name, string args)
        {
            var head = id is null ? string.Empty : ",\"id\":\"" + id + "\",\"type\":\"function\"";
            var fn = (name is null ? string.Empty : "\"name\":\"" + name + "\",") + "\"arguments\":" + JsonSerializer.Serialize(args);
            return "{\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":" + index + head + ",\"function\":{" + fn + "}}]},\"finish_reason\":null}]}";
        }

        foreach (var origin in new[] { true, false })
        {
            yield return new TestCaseData(origin, new[]
            {
                Fragment(0, "call_a", "get_weather", ""), Fragment(1, "call_b", "get_time", ""), Fragment(0, null, null, "{\"city\":"), Fragment(1, null, null, "{\"tz\":"),
                Fragment(0, null, null, "\"Paris\"}"), Fragment(1, null, null, "\"CET\"}"),
            }, Expected).SetArgDisplayNames("parallel by index", origin ? "origin" : "sentence");
            yield return new TestCaseData(origin, new[]
            {
                Fragment(0, "call_a", "get_weather", "{\"city\":"), Fragment(0, null, null, "\"Paris\"}"), Fragment(0, "call_b", "get_time", "{\"tz\":"), Fragment(0, null, null, "\"CET\"}"),
            }, Expected).SetArgDisplayNames("index 0 reused", origin ? "origin" : "sentence");
        }
    }

    [TestCaseSource(nameof(ToolCallShapes)), CancelAfter(20000)]
    public async Task ToolCalls_AssembledExactly_OnceOnTheFinalFrame(bool origin, string[] fragments, string expected, CancellationToken ct)
    {
        var script = Events([.. fragments, Finish("tool_calls"), """{"id":"c","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":4,"total_tokens":13}}""", "[DONE]"]);
        var (stream, _) = await AskAsync(script, new { query = "weather and time?", model = "gpt-4o", origin_stream = origin }, ct);
        Assert.Multiple(() =>
        {
            Assert.That((stream.Code, stream.FinishReason), Is.EqualTo((0, "tool_calls")), stream.Message);
            Assert.That(stream.Final.GetProperty("data").GetProperty("tool_calls").GetRawText(), Is.EqualTo(expected));
            Assert.That(stream.ContentFrames, Is.Empty, "no text: nothing but the final frame");
        });
    }

    [Test, CancelAfter(20000)]
    public async Task ProviderQuirks_FilterChunksEarlyUsageAndVendorUsage_AreHarmless(CancellationToken ct)
    {
        var script = Events(
            """{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}}}]}""",
            Delta("content", "Hello"),
            """{"id":"c","choices":[{"index":0,"finish_reason":null,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}}}]}""",
            """{"id":"c","choices":[{"index":0,"delta":{"content":" world"},"finish_reason":null}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}""",
            """{"id":"c","choices":[{"index":0,"delta":null,"finish_reason":null}]}""",
            """{"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"x_groq":{"id":"req_1","usage":{"prompt_tokens":11,"completion_tokens":2,"total_tokens":13,"completion_tokens_details":{"reasoning_tokens":0},"prompt_tokens_details":{"cached_tokens":8}}}}""",
            "[DONE]");
        var (stream, _) = await AskAsync(script, new { query = "q", model = "gpt-4o" }, ct);
        var usage = stream.Final.GetProperty("data").GetProperty("usage");
        Assert.Multiple(() =>
        {
            Assert.That((stream.Code, stream.Text), Is.EqualTo((0, "Hello world")), stream.Message);
            Assert.That(usage.GetProperty("prompt_tokens").GetInt32(), Is.EqualTo(11), "the last usage wins, wherever the vendor put it");
            Assert.That(usage.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32(), Is.EqualTo(8));
            Assert.That(usage.GetProperty("completion_tokens_details").GetProperty("reasoning_tokens").GetInt32(), Is.Zero);
        });
    }
}
