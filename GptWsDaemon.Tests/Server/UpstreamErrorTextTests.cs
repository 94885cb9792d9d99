using System.Text;
using System.Text.Json;
using GptWsDaemon.Protocol;
using GptWsDaemon.Tests.Support;

namespace GptWsDaemon.Tests.Server;

/// <summary>
/// What of an upstream's error reaches the client: every path (HTTP error bodies, <c>event: error</c>, a
/// <c>data: {"error":…}</c> after the 200, transport errors) redacted, reduced and capped alike, and coded by content.
/// </summary>
[Category("loopback")]
[TestFixture]
public sealed class UpstreamErrorTextTests
{
    private const string Key = "sk-test-key-000000000000"; // DaemonFixture's configured key
    private const string KeyShaped = "sk-proj-Zx81Qw02Lm93Vb47";

    private static object Ask(string seq) => new { seq, data = new { query = "q" } };

    private static Func<FakeRequest, FakeResponse, Task> Body(int status, string contentType, string body) => async (req, res) =>
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        await res.SendHeadAsync(status, contentType, new Dictionary<string, string> { ["Content-Length"] = bytes.Length.ToString() });
        await res.WriteRawAsync(bytes);
    };

    private static Func<FakeRequest, FakeResponse, Task> AfterOneToken(string tail) => async (req, res) =>
    {
        await res.StartSseAsync();
        await res.SendChunkAsync("good", false);
        await res.WriteRawAsync(Encoding.UTF8.GetBytes(tail));
    };

    private static string ErrorJson(string message, string? code = null, string? type = null) =>
        JsonSerializer.Serialize(new { error = new { message, type, param = (string?)null, code } });

    [TestCase(Key)]
    [TestCase(KeyShaped)]
    [CancelAfter(20000)]
    public async Task DataErrorAfter200_KeyInMessage_RedactedAndCoded2001(string secret, CancellationToken ct)
    {
        var stream = await RunAsync(AfterOneToken($"data: {ErrorJson($"Incorrect API key provided: Bearer {secret}. Find your key at https://platform.openai.com", "invalid_api_key", "invalid_request_error")}\n\n"), ct);

        Assert.Multiple(() =>
        {
            Assert.That(stream.Text, Is.EqualTo("good"));
            Assert.That(stream.Message, Does.Contain("Incorrect API key provided"));
            Assert.That(stream.Message, Does.Not.Contain(secret).And.Not.Contain(secret[..12]));
            Assert.That(stream.Code, Is.EqualTo(ErrorCodes.UpstreamAuth));
            Assert.That(UpstreamCode(stream), Is.EqualTo("invalid_api_key"));
        });
    }

    [TestCase(Key)]
    [TestCase(KeyShaped)]
    [CancelAfter(20000)]
    public async Task ErrorEventAfter200_KeyInMessage_Redacted(string secret, CancellationToken ct)
    {
        var stream = await RunAsync(AfterOneToken($"event: error\ndata: {ErrorJson($"bad key {secret}")}\n\n"), ct);

        Assert.That(stream.Message, Does.Contain("bad key").And.Not.Contain(secret).And.Not.Contain(secret[..12]));
    }

    [TestCase(Key)]
    [TestCase(KeyShaped)]
    [CancelAfter(20000)]
    public async Task ErrorStatusWithPlainTextBody_KeyInBody_Redacted(string secret, CancellationToken ct)
    {
        var stream = await RunAsync(Body(400, "text/plain", $"Authorization: Bearer {secret} rejected"), ct);

        Assert.That(stream.Code, Is.EqualTo(ErrorCodes.UpstreamError));
        Assert.That(stream.Message, Does.Contain("rejected").And.Not.Contain(secret).And.Not.Contain(secret[..12]));
    }

    [Test, CancelAfter(20000)]
    public async Task HugeErrorMessage_CappedAt300CharsMarkedCut(CancellationToken ct)
    {
        var message = "<script>alert('owned')</script>" + new string('A', 60_000) + "END-OF-MESSAGE!!";
        Assert.That(message, Has.Length.EqualTo(60_047));
        var stream = await RunAsync(Body(400, "application/json", ErrorJson(message, "invalid_value")), ct);

        var detail = stream.Message["upstream error (400): ".Length..];
        Assert.Multiple(() =>
        {
            Assert.That(stream.Message, Does.StartWith("upstream error (400): "));
            Assert.That(detail, Has.Length.LessThanOrEqualTo(300));
            Assert.That(detail, Does.EndWith("…"));
            Assert.That(stream.Message, Does.Not.Contain("END-OF-MESSAGE"));
            Assert.That(UpstreamCode(stream), Is.EqualTo("invalid_value"));
        });
    }

    [Test, CancelAfter(20000)]
    public async Task RetriedErrorWithHugeBody_LogLineIsTheSameSanitizedText(CancellationToken ct)
    {
        // The retry log line prints the failure's message: capped and redacted like the frame, never a 60 KB line.
        using var log = new LogWatch("upstream attempt 1 failed");
        var body = $"overloaded, key {Key}\r\n" + new string('B', 60_000);
        var stream = await RunAsync(Body(503, "text/plain", body), ct, retries: 1);
        await log.Seen.WaitAsync(TimeSpan.FromSeconds(5), ct);

        Assert.Multiple(() =>
        {
            Assert.That(stream.Code, Is.EqualTo(ErrorCodes.UpstreamError));
            Assert.That(log.Line, Has.Length.LessThan(500));
            Assert.That(log.Line, Does.Contain("overloaded, key ***").And.Not.Contain(Key).And.Not.Contain("\r"));
            Assert.That(log.Line, Does.Contain(stream.Message["upstream error (503): ".Length..]), "the frame's text, no other");
        });
    }

    [Test, CancelAfter(20000)]
    public async Task HtmlErrorPage_ReducedToItsTitle_NoControlCharacters(CancellationToken ct)
    {
        const string page = "<!DOCTYPE html>\r\n<html>\r\n<head><title>502 Bad Gateway\r\n at lb-7.internal.corp</title></head>\r\n"
            + "<body><script>track()</script><h1>502</h1><pre>upstream 10.0.3.4:8000 refused\r\n  at Proxy.Forward()</pre></body></html>";
        var stream = await RunAsync(Body(502, "text/html", page), ct, retries: 0);

        Assert.Multiple(() =>
        {
            Assert.That(stream.Code, Is.EqualTo(ErrorCodes.UpstreamError));
            Assert.That(stream.Message, Is.EqualTo("upstream error (502): 502 Bad Gateway at lb-7.internal.corp"));
            Assert.That(stream.Message.Any(char.IsControl), Is.False);
        });
    }

    [Test, CancelAfter(20000)]
    public async Task HtmlErrorPageWithoutTitle_IsNamedNotShown(CancellationToken ct)
    {
        var stream = await RunAsync(Body(503, "text/html", "<html><body><h1>Service Unavailable</h1><p>node gpu-17</p></body></html>"), ct, retries: 0);

        Assert.That(stream.Message, Is.EqualTo("upstream error (503): HTML error page"));
    }

    [Test, CancelAfter(20000)]
    public async Task ExpressNotFoundBody_GivesErrorAndMessage(CancellationToken ct)
    {
        var stream = await RunAsync(Body(404, "application/json", """{"error":"Not Found","message":"Cannot POST /v1/chat/completions","statusCode":404}"""), ct);

        Assert.Multiple(() =>
        {
            Assert.That(stream.Code, Is.EqualTo(ErrorCodes.UpstreamError));
            Assert.That(stream.Message, Is.EqualTo("upstream error (404): Not Found: Cannot POST /v1/chat/completions"));
            Assert.That(stream.Final.GetProperty("data").TryGetProperty("upstream_code", out _), Is.False, "no code sent, none shown");
        });
    }

    [TestCase("rate_limit_exceeded", "requests", ErrorCodes.UpstreamRateLimit, "rate_limit_exceeded")]
    [TestCase("insufficient_quota", "insufficient_quota", ErrorCodes.UpstreamRateLimit, "insufficient_quota")]
    [TestCase("model_not_found", "invalid_request_error", ErrorCodes.UpstreamError, "model_not_found")]
    [TestCase(null, "invalid_request_error", ErrorCodes.UpstreamError, "invalid_request_error")]
    [TestCase(null, "server_error", ErrorCodes.UpstreamBroken, "server_error")]
    [TestCase(null, null, ErrorCodes.UpstreamBroken, null)]
    [CancelAfter(20000)]
    public async Task DataErrorAfter200_CodeFromItsContent(string? code, string? type, int expected, string? upstreamCode, CancellationToken ct)
    {
        var stream = await RunAsync(AfterOneToken($"data: {ErrorJson("it failed", code, type)}\n\n"), ct);

        Assert.That((stream.Code, UpstreamCode(stream)), Is.EqualTo((expected, upstreamCode)));
        Assert.That(stream.Text, Is.EqualTo("good"));
    }

    [Test, CancelAfter(20000)]
    public async Task ErrorEventAfter200_CodeFromItsContent(CancellationToken ct)
    {
        var stream = await RunAsync(AfterOneToken("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"slow\"}}\n\n"), ct);

        Assert.That((stream.Code, UpstreamCode(stream)), Is.EqualTo((ErrorCodes.UpstreamRateLimit, "rate_limit_error")));
    }

    [Test, CancelAfter(20000)]
    public async Task Status400WithInvalidApiKeyCode_Is2001(CancellationToken ct)
    {
        var stream = await RunAsync(Body(400, "application/json", ErrorJson("Incorrect API key provided", "invalid_api_key", "invalid_request_error")), ct);

        Assert.That((stream.Code, UpstreamCode(stream)), Is.EqualTo((ErrorCodes.UpstreamAuth, "invalid_api_key")));
    }

    [Test, CancelAfter(20000)]
    public async Task Status404ModelNotFound_Is2003WithUpstreamCode(CancellationToken ct)
    {
        var stream = await RunAsync(Body(404, "application/json", ErrorJson("The model `gpt-9` does not exist", "model_not_found", "invalid_request_error")), ct);

        Assert.That((stream.Code, UpstreamCode(stream)), Is.EqualTo((ErrorCodes.UpstreamError, "model_not_found")));
        Assert.That(stream.Message, Does.Contain("gpt-9"));
    }

    [Test, CancelAfter(20000)]
    public async Task ResetMidStream_Is2005WithoutUpstreamCode(CancellationToken ct)
    {
        var stream = await RunAsync(async (req, res) =>
        {
            await res.StartSseAsync();
            await res.SendChunkAsync("good", false);
            await Task.Delay(50, res.Aborted);
            res.Reset();
        }, ct);

        Assert.That(stream.Code, Is.EqualTo(ErrorCodes.UpstreamBroken));
        Assert.That(stream.Final.GetProperty("data").TryGetProperty("upstream_code", out _), Is.False);
    }

    private static string? UpstreamCode(StreamResult stream) =>
        stream.Final.GetProperty("data").TryGetProperty("upstream_code", out var c) ? c.GetString() : null;

    private static async Task<StreamResult> RunAsync(Func<FakeRequest, FakeResponse, Task> script, CancellationToken ct, int retries = 2)
    {
        await using var upstream = new FakeOpenAiServer(script);
        await using var daemon = await DaemonFixture.StartAsync(upstream, s => s with { MaxRetries = retries });
        using var client = await daemon.ConnectAsync(ct);
        await client.SendAsync(Ask("e"), ct);
        return await client.ReadStreamAsync("e", ct);
    }
}
