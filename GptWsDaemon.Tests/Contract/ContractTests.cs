using System.Text.Json;
using GptWsDaemon.Tests.Support;

namespace GptWsDaemon.Tests.Contract;

/// <summary>
/// docs/schema/ as a contract: the schemas accept what protocol.md shows and reject what it forbids, so the validator
/// the end-to-end tests run on every frame can fail (the AsyncAPI document: <see cref="AsyncApiCliTests"/>).
/// </summary>
[Category("unit")]
[TestFixture]
public sealed class ContractTests
{
    [TestCase("""{"code":0,"msg":"ok","seq":"a1","data":{"consume_time":"0.38","finish_reason":null,"contents":"杭州"}}""")]
    [TestCase("""{"code":0,"msg":"ok","seq":17,"data":{"consume_time":"2.71","finish_reason":"stop","contents":"","usage":{"prompt_tokens":17,"completion_tokens":93,"total_tokens":110}}}""")]
    [TestCase("""{"code":0,"msg":"ok","seq":"a1","data":{"consume_time":"0.10","finish_reason":"cancelled","contents":""}}""")]
    [TestCase("""{"code":2003,"msg":"upstream error (404)","seq":"a1","data":{"consume_time":"0.21","finish_reason":"error","contents":"","upstream_code":"model_not_found"}}""")]
    [TestCase("""{"code":1001,"msg":"frame is not valid JSON","seq":null,"data":{"consume_time":"0.00","finish_reason":"error","contents":""}}""")]
    [TestCase("""{"code":0,"msg":"pong"}""")]
    [TestCase("""{"code":0,"msg":"pong","seq":"p"}""")]
    public void DaemonFrameSchema_DocumentedFrames_Valid(string frame) =>
        Assert.That(FrameSchema.DaemonFrameProblem(Parse(frame)), Is.Null);

    [TestCase("""{"code":0,"msg":"ok","seq":"a1","data":{"consume_time":"0.38","finish_reason":null,"contents":""}}""", "an empty content frame")]
    [TestCase("""{"code":0,"msg":"ok","seq":"a1","data":{"consume_time":0.38,"finish_reason":null,"contents":"x"}}""", "consume_time as a number")]
    [TestCase("""{"code":0,"msg":"ok","seq":"a1","data":{"consume_time":"0.4","finish_reason":null,"contents":"x"}}""", "one decimal")]
    [TestCase("""{"code":0,"msg":"ok","seq":"a1","data":{"consume_time":"0.38","finish_reason":"content_filter","contents":""}}""", "a provider's own finish reason")]
    [TestCase("""{"code":0,"msg":"ok","seq":"a1","data":{"consume_time":"0.38","finish_reason":"stop","contents":"tail"}}""", "a final frame with contents")]
    [TestCase("""{"code":0,"msg":"ok","seq":null,"data":{"consume_time":"0.38","finish_reason":null,"contents":"x"}}""", "content without a seq")]
    [TestCase("""{"code":4242,"msg":"?","seq":"a1","data":{"consume_time":"0.38","finish_reason":"error","contents":""}}""", "an undocumented code")]
    [TestCase("""{"code":2005,"msg":"x","seq":"a1","data":{"consume_time":"0.38","finish_reason":"stop","contents":""}}""", "an error that is not finish_reason error")]
    [TestCase("""{"code":0,"msg":"ok","seq":"a1","data":{"consume_time":"0.38","finish_reason":null,"contents":"x","extra":1}}""", "an undocumented field")]
    public void DaemonFrameSchema_WrongFrame_Rejected(string frame, string what) =>
        Assert.That(FrameSchema.DaemonFrameProblem(Parse(frame)), Is.Not.Null, what);

    [TestCase("""{"seq":"yuwrywirw89573459","data":{"messages":[{"role":"user","content":"杭州都有什么景色？"}],"model":"gpt-3.5-turbo","origin_stream":false}}""")]
    [TestCase("""{"seq":5,"data":{"query":"hi","temperature":1.5,"stop":"Human:"}}""")]
    [TestCase("""{"seq":"a","action":"cancel"}""")]
    [TestCase("""{"action":"ping"}""")]
    public void ClientMessageSchema_DocumentedMessages_Valid(string message) =>
        Assert.That(FrameSchema.ClientMessageProblem(Parse(message)), Is.Null);

    [TestCase("""{"data":{"query":"hi"}}""", "no seq")]
    [TestCase("""{"seq":"","data":{"query":"hi"}}""", "an empty seq")]
    [TestCase("""{"seq":"a","data":{}}""", "neither query nor messages")]
    [TestCase("""{"seq":"a","data":{"query":"hi","temperature":5}}""", "temperature out of range")]
    [TestCase("""{"seq":"a","data":{"messages":[{"role":"robot","content":"x"}]}}""", "an unknown role")]
    [TestCase("""{"action":"dance"}""", "an unknown action")]
    public void ClientMessageSchema_WrongMessage_Rejected(string message, string what) =>
        Assert.That(FrameSchema.ClientMessageProblem(Parse(message)), Is.Not.Null, what);

    private static JsonElement Parse(string json) => JsonDocument.Parse(json).RootElement.Clone();
}
