using System.Text;
using System.Text.Json;
using GptWsDaemon.Config;
using GptWsDaemon.Protocol;
using GptWsDaemon.Upstream.Dialects;

namespace GptWsDaemon.Tests.Upstream;

/// <summary><see cref="OpenAiDialect"/> requests: protocol.md §4 <c>openai_parameter</c> and the /chat/completions vs /completions split.</summary>
[Category("unit")]
[TestFixture]
public sealed class OpenAiRequestBodyTests
{
    private static readonly OpenAiDialect Dialect = new("http://127.0.0.1/v1");

    [Test]
    public void Write_ChatWithProviderDefaults_SendsOnlyModelMessagesAndStream()
    {
        var request = Request("""{"seq":"s","data":{"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"杭州\"🌸"}]}}""");
        Assert.Multiple(() =>
        {
            Assert.That(Dialect.UriFor(request, request.UpstreamModel).AbsolutePath, Is.EqualTo("/v1/chat/completions"));
            Assert.That(
                Encoding.UTF8.GetString(Dialect.WriteBody(request, request.UpstreamModel)),
                Is.EqualTo("""{"model":"gpt-3.5-turbo","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"杭州\"\uD83C\uDF38"}],"stream":true,"stream_options":{"include_usage":true}}"""));
        });
    }

    [Test]
    public void Write_CompletionsWithProviderDefaults_SendsPrompt()
    {
        var request = Request("""{"seq":"s","data":{"query":"Human: hi\nAI:","model":"gpt-3.5-turbo-instruct"}}""");
        Assert.Multiple(() =>
        {
            Assert.That(Dialect.UriFor(request, request.UpstreamModel).AbsolutePath, Is.EqualTo("/v1/completions"));
            Assert.That(
                Encoding.UTF8.GetString(Dialect.WriteBody(request, request.UpstreamModel)),
                Is.EqualTo("""{"model":"gpt-3.5-turbo-instruct","prompt":"Human: hi\nAI:","stream":true,"stream_options":{"include_usage":true}}"""));
        });
    }

    [Test]
    public void Write_ChatWithOpenAiParameterFalse_SendsEveryParameterButBestOf()
    {
        var body = Body("""{"seq":"s","data":{"query":"q","openai_parameter":false,"temperature":0.7,"best_of":3}}""");
        Assert.Multiple(() =>
        {
            Assert.That(body.GetProperty("temperature").GetDouble(), Is.EqualTo(0.7));
            Assert.That(body.GetProperty("max_tokens").GetInt32(), Is.EqualTo(500));
            Assert.That(body.GetProperty("top_p").GetDouble(), Is.EqualTo(1));
            Assert.That(body.GetProperty("frequency_penalty").GetDouble(), Is.Zero);
            Assert.That(body.GetProperty("presence_penalty").GetDouble(), Is.Zero);
            Assert.That(body.GetProperty("stop").EnumerateArray().Select(s => s.GetString()), Is.EqualTo(new[] { "Human:" }));
            Assert.That(body.TryGetProperty("best_of", out _), Is.False, "best_of: completions only; not sent to chat");
            Assert.That(body.GetProperty("messages")[0].GetProperty("content").GetString(), Is.EqualTo("q"));
        });
    }

    [Test]
    public void Write_CompletionsWithOpenAiParameterFalse_SendsBestOf()
    {
        var body = Body("""{"seq":"s","data":{"query":"q","model":"davinci-002","openai_parameter":false,"best_of":3,"stop":"\n"}}""");
        Assert.Multiple(() =>
        {
            Assert.That(body.GetProperty("best_of").GetInt32(), Is.EqualTo(3));
            Assert.That(body.GetProperty("prompt").GetString(), Is.EqualTo("q"));
            Assert.That(body.GetProperty("stop").EnumerateArray().Select(s => s.GetString()), Is.EqualTo(new[] { "\n" }));
            Assert.That(body.TryGetProperty("messages", out _), Is.False);
        });
    }

    [Test]
    public void Write_AliasedModel_SendsTheUpstreamName()
    {
        var settings = new DaemonSettings { ModelAliases = new Dictionary<string, string>(StringComparer.Ordinal) { ["text-davinci-003"] = "gpt-3.5-turbo-instruct" } };
        var request = Request("""{"seq":"s","data":{"query":"q","model":"text-davinci-003"}}""", settings);
        using var doc = JsonDocument.Parse(Dialect.WriteBody(request, request.UpstreamModel));
        Assert.Multiple(() =>
        {
            Assert.That(doc.RootElement.GetProperty("model").GetString(), Is.EqualTo("gpt-3.5-turbo-instruct"));
            Assert.That(Dialect.UriFor(request, request.UpstreamModel).AbsolutePath, Is.EqualTo("/v1/completions"));
        });
    }

    private static ChatRequest Request(string frame, DaemonSettings? settings = null)
    {
        var command = new RequestParser(settings ?? new DaemonSettings()).Parse(Encoding.UTF8.GetBytes(frame), 0);
        Assert.That(command, Is.TypeOf<ClientCommand.Chat>(), () => $"{command}");
        return ((ClientCommand.Chat)command).Request;
    }

    private static byte[] Write(ChatRequest request) => Dialect.WriteBody(request, request.UpstreamModel);

    private static JsonElement Body(string frame) => JsonDocument.Parse(Write(Request(frame))).RootElement;
}
