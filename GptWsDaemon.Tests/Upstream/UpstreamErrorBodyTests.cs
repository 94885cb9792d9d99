using System.Text;
using GptWsDaemon.Upstream;

namespace GptWsDaemon.Tests.Upstream;

/// <summary><see cref="UpstreamErrorBody"/> over the error bodies providers and proxies really send.</summary>
[Category("unit")]
[TestFixture]
public sealed class UpstreamErrorBodyTests
{
    [TestCase("""{"error":{"message":"Incorrect API key provided: sk-****.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}""", "Incorrect API key provided: sk-****.", "invalid_api_key", "invalid_request_error")]
    [TestCase("""{"error":"model overloaded"}""", "model overloaded", null, null)]
    [TestCase("""{"object":"error","error":{"code":"429","message":"Too many requests"}}""", "Too many requests", "429", null)]
    [TestCase("""{"error":{"code":"x"}}""", null, "x", null)]
    [TestCase("""{"error":{"message":"杭州 \u2603"}}""", "杭州 ☃", null, null)]
    [TestCase("""{"error":"Not Found","message":"Cannot POST /v1/chat/completions","statusCode":404}""", "Not Found: Cannot POST /v1/chat/completions", null, null)]
    [TestCase("""{"message":"no error key","code":"model_not_found"}""", "no error key", "model_not_found", null)]
    [TestCase("""{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}""", "Overloaded", null, "overloaded_error")]
    [TestCase("""{"error":{"message":123,"code":500}}""", null, "500", null)]
    public void TryRead_ErrorShapes_ReadsMessageCodeAndType(string json, string? message, string? code, string? type)
    {
        Assert.That(UpstreamErrorBody.TryRead(Encoding.UTF8.GetBytes(json), out var body), Is.True);
        Assert.That(body, Is.EqualTo(new UpstreamErrorBody(message, code, type)));
    }

    [Test]
    public void UpstreamCode_CodeElseType()
    {
        Assert.Multiple(() =>
        {
            Assert.That(new UpstreamErrorBody("m", "invalid_api_key", "invalid_request_error").UpstreamCode, Is.EqualTo("invalid_api_key"));
            Assert.That(new UpstreamErrorBody("m", null, "invalid_request_error").UpstreamCode, Is.EqualTo("invalid_request_error"));
            Assert.That(new UpstreamErrorBody("m", null, null).UpstreamCode, Is.Null);
        });
    }

    [TestCase("")]
    [TestCase("<html><body>502 Bad Gateway</body></html>")]
    [TestCase("""{"status":"no error and no message"}""")]
    [TestCase("""{"error":null}""")]
    [TestCase("""["error"]""")]
    [TestCase("""{"error":{"message":"trunc""")]
    public void TryRead_NotAnErrorBody_ReturnsFalse(string body)
    {
        Assert.That(UpstreamErrorBody.TryRead(Encoding.UTF8.GetBytes(body), out _), Is.False);
    }
}
