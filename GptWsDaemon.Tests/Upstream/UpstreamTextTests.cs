using GptWsDaemon.Observability;
using GptWsDaemon.Protocol;
using GptWsDaemon.Upstream;

namespace GptWsDaemon.Tests.Upstream;

/// <summary><see cref="UpstreamText"/> and <see cref="UpstreamFailures"/>: what of an upstream's words a client and a log may see.</summary>
[Category("unit")]
[TestFixture]
public sealed class UpstreamTextTests
{
    [TestCase("plain words", "plain words")]
    [TestCase("line one\r\nline two\ttab\u0000nul\u001b[31mred", "line one line two tab nul [31mred")]
    [TestCase("  <!DOCTYPE html>\r\n<html><head><title>502 Bad Gateway &amp; friends</title></head><body><script>alert(1)</script>secret</body></html>", "502 Bad Gateway & friends")]
    [TestCase("<html><body><h1>Oops</h1></body></html>", UpstreamText.UntitledHtml)]
    [TestCase("bidi \u202Egnp.exe\u202C ok", "bidi gnp.exe ok")]
    public void Reduce_Texts_KeepOnlyReadableText(string text, string expected)
    {
        Assert.That(UpstreamText.Reduce(text), Is.EqualTo(expected));
    }

    [Test]
    public void Cap_LongText_Keeps300CharsMarkedAsCut()
    {
        var capped = UpstreamText.Cap(new string('x', 298) + "😀😀 tail");
        Assert.Multiple(() =>
        {
            Assert.That(capped, Has.Length.LessThanOrEqualTo(UpstreamText.MaxChars));
            Assert.That(capped, Does.EndWith("…").And.StartWith(new string('x', 298)));
            Assert.That(char.IsHighSurrogate(capped[^2]), Is.False, "never half a pair");
            Assert.That(UpstreamText.Cap("short"), Is.EqualTo("short"));
        });
    }

    [Test]
    public void Clean_KeyBeyondTheCap_IsRedactedBeforeCutting()
    {
        // Cutting first could leave a prefix of a configured key that no longer matches it whole.
        var key = "azure-0123456789abcdef0123456789abcdef";
        var failures = new UpstreamFailures(new GptWsDaemon.Config.DaemonSettings(), new SecretRedactor([key]));
        var clean = failures.Clean(new string('y', 290) + key);
        Assert.That(clean, Does.Not.Contain("azure-0123"));
    }

    [TestCase("invalid_api_key", "invalid_request_error", ErrorCodes.UpstreamAuth)]
    [TestCase(null, "authentication_error", ErrorCodes.UpstreamAuth)]
    [TestCase("rate_limit_exceeded", "requests", ErrorCodes.UpstreamRateLimit)]
    [TestCase("insufficient_quota", "insufficient_quota", ErrorCodes.UpstreamRateLimit)]
    [TestCase("model_not_found", "invalid_request_error", ErrorCodes.UpstreamError)]
    [TestCase(null, "invalid_request_error", ErrorCodes.UpstreamError)]
    [TestCase("context_length_exceeded", null, ErrorCodes.UpstreamError)]
    [TestCase(null, "server_error", ErrorCodes.UpstreamBroken)]
    [TestCase("overloaded", "overloaded_error", ErrorCodes.UpstreamBroken)]
    [TestCase(null, null, ErrorCodes.UpstreamBroken)]
    public void CodeFor_ErrorContent_NamesTheCause(string? code, string? type, int expected)
    {
        Assert.That(UpstreamFailures.CodeFor(code, type, ErrorCodes.UpstreamBroken), Is.EqualTo(expected));
    }
}
