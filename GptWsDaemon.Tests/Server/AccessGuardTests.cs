using GptWsDaemon.Server;

namespace GptWsDaemon.Tests.Server;

/// <summary><see cref="AccessGuard"/>'s origin rules and subprotocol choice (the handshakes themselves: HandshakeTests).</summary>
[Category("unit")]
[TestFixture]
public sealed class AccessGuardTests
{
    private static readonly AccessGuard Default = new([], []);

    [TestCase(null, "127.0.0.1:8808", true)]
    [TestCase("", "127.0.0.1:8808", true)]
    [TestCase("http://127.0.0.1:8808", "127.0.0.1:8808", true)]
    [TestCase("http://LOCALHOST:3000", "example.com", true)]
    [TestCase("http://127.9.9.9", "example.com", true)]
    [TestCase("https://chat.example.com", "chat.example.com", true)]
    [TestCase("https://chat.example.com", "chat.example.com:443", true)]
    [TestCase("http://chat.example.com", "chat.example.com:8080", false)]
    [TestCase("https://chat.example.com.evil.example", "chat.example.com", false)]
    [TestCase("https://evil.example", "127.0.0.1:8808", false)]
    [TestCase("null", "127.0.0.1:8808", false)]
    [TestCase("file:///index.html", "127.0.0.1:8808", false)]
    public void IsOriginAllowed_Default_OwnPageAndLoopbackOnly(string? origin, string host, bool allowed) =>
        Assert.That(Default.IsOriginAllowed(origin, host, null), Is.EqualTo(allowed));

    [Test]
    public void IsOriginAllowed_Listed_OnlyThoseAndNotOwnPage()
    {
        var guard = new AccessGuard([], ["https://app.example.com"]);
        Assert.Multiple(() =>
        {
            Assert.That(guard.IsOriginAllowed("https://app.example.com/", "daemon:8808", null), Is.True);
            Assert.That(guard.IsOriginAllowed("http://daemon:8808", "daemon:8808", null), Is.False);
            Assert.That(new AccessGuard([], ["*"]).IsOriginAllowed("https://evil.example", "x", null), Is.True);
        });
    }

    [TestCase(null, null)]
    [TestCase("chat, superchat", null)]
    [TestCase("gptws", "gptws")]
    [TestCase("bearer.abcdefgh, gptws", "gptws")]
    [TestCase("GPTWS", null)]
    public void SelectSubProtocol_OnlyGptws(string? offered, string? selected) =>
        Assert.That(AccessGuard.SelectSubProtocol(offered), Is.EqualTo(selected));
}
