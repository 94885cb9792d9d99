using System.Net;
using System.Net.WebSockets;
using GptWsDaemon.Server.Engines;
using GptWsDaemon.Tests.Support;

namespace GptWsDaemon.Tests.Server;

/// <summary>
/// The upgrade gate through raw sockets on both engines: subprotocols (none selected unless gptws; the token as
/// bearer.T), origins safe by default, the close code echoed, and plain routes answered alike by both engines.
/// </summary>
[Category("loopback")]
[TestFixtureSource(typeof(EngineTests), nameof(EngineTests.Engines))]
public sealed class HandshakeTests(EngineKind engine) : EngineTests(engine)
{
    private const string Token = "tok-0123456789abcdef";

    [Test, CancelAfter(20000)]
    public async Task Upgrade_OffersUnknownSubprotocols_101WithNoProtocolHeader(CancellationToken ct)
    {
        await using var daemon = await StartDemoDaemonAsync();
        using var raw = await RawHttp.ConnectAsync(daemon.Settings.Port, ct);
        await raw.SendAsync(RawHttp.Upgrade(daemon.Settings.Port, "/ws", "Sec-WebSocket-Protocol: chat, superchat"), ct);
        var head = await raw.ReadHeadAsync(ct);

        Assert.Multiple(() =>
        {
            Assert.That(head.Status, Is.EqualTo(101));
            Assert.That(head.Headers.ContainsKey("Sec-WebSocket-Protocol"), Is.False, "no protocol selected means no header (RFC 6455 §4.2.2)");
            Assert.That(head.Header("Sec-WebSocket-Accept"), Is.EqualTo("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "RFC 6455 §1.3's example key");
        });
    }

    [Test, CancelAfter(20000)]
    public async Task Upgrade_TokenAsSubprotocol_SelectsGptwsNeverTheToken(CancellationToken ct)
    {
        await using var daemon = await StartDemoDaemonAsync(s => s with { AccessTokens = [Token] });
        using var raw = await RawHttp.ConnectAsync(daemon.Settings.Port, ct);
        await raw.SendAsync(RawHttp.Upgrade(daemon.Settings.Port, "/ws", $"Sec-WebSocket-Protocol: gptws, bearer.{Token}"), ct);
        var head = await raw.ReadHeadAsync(ct);

        using var wrong = await RawHttp.ConnectAsync(daemon.Settings.Port, ct);
        await wrong.SendAsync(RawHttp.Upgrade(daemon.Settings.Port, "/ws", "Sec-WebSocket-Protocol: gptws, bearer.not-the-token"), ct);
        var refused = await wrong.ReadHeadAsync(ct);

        Assert.Multiple(() =>
        {
            Assert.That(head.Status, Is.EqualTo(101));
            Assert.That(head.Header("Sec-WebSocket-Protocol"), Is.EqualTo("gptws"));
            Assert.That(refused.Status, Is.EqualTo(401));
        });
    }

    [Test, CancelAfter(20000)]
    public async Task ClientWebSocket_TokenSubprotocol_ConnectsAndStreams(CancellationToken ct)
    {
        await using var daemon = await StartDemoDaemonAsync(s => s with { AccessTokens = [Token] });
        using var client = await WsTestClient.ConnectAsync(daemon.WsUri, ct, o =>
        {
            o.AddSubProtocol("gptws");
            o.AddSubProtocol("bearer." + Token);
        });
        await client.SendAsync(new { seq = "s1", data = new { query = "hi" } }, ct);
        var stream = await client.ReadStreamAsync("s1", ct);

        Assert.Multiple(() =>
        {
            Assert.That(client.Socket.SubProtocol, Is.EqualTo("gptws"));
            Assert.That(stream.Final.GetProperty("code").GetInt32(), Is.EqualTo(0));
        });
    }

    [TestCase("https://evil.example", 403)]
    [TestCase("null", 403)]
    [TestCase("http://localhost:5173", 101)]
    [TestCase("http://127.0.0.1:3000", 101)]
    [TestCase("http://[::1]:8080", 101)]
    [TestCase("SELF", 101)]
    [CancelAfter(20000)]
    public async Task Upgrade_OriginWithDefaultSettings_OnlyOwnPageAndLoopback(string origin, int expected, CancellationToken ct)
    {
        await using var daemon = await StartDemoDaemonAsync();
        var port = daemon.Settings.Port;
        using var raw = await RawHttp.ConnectAsync(port, ct);
        await raw.SendAsync(RawHttp.Upgrade(port, "/ws", "Origin: " + (origin == "SELF" ? $"http://127.0.0.1:{port}" : origin)), ct);

        Assert.That((await raw.ReadHeadAsync(ct)).Status, Is.EqualTo(expected));
    }

    [Test, CancelAfter(20000)]
    public async Task Upgrade_OwnPageBehindProxy_AllowedThroughForwardedHost(CancellationToken ct)
    {
        await using var daemon = await StartDemoDaemonAsync();
        var port = daemon.Settings.Port;
        using var proxied = await RawHttp.ConnectAsync(port, ct);
        await proxied.SendAsync(RawHttp.Upgrade(port, "/ws", "Origin: https://chat.example.com", "X-Forwarded-Host: chat.example.com"), ct);
        using var other = await RawHttp.ConnectAsync(port, ct);
        await other.SendAsync(RawHttp.Upgrade(port, "/ws", "Origin: https://evil.example", "X-Forwarded-Host: chat.example.com"), ct);

        Assert.Multiple(async () =>
        {
            Assert.That((await proxied.ReadHeadAsync(ct)).Status, Is.EqualTo(101));
            Assert.That((await other.ReadHeadAsync(ct)).Status, Is.EqualTo(403));
        });
    }

    [Test, CancelAfter(20000)]
    public async Task Upgrade_AllowedOriginsStar_AnyOriginAccepted(CancellationToken ct)
    {
        await using var daemon = await StartDemoDaemonAsync(s => s with { AllowedOrigins = ["*"] });
        using var raw = await RawHttp.ConnectAsync(daemon.Settings.Port, ct);
        await raw.SendAsync(RawHttp.Upgrade(daemon.Settings.Port, "/ws", "Origin: https://evil.example"), ct);

        Assert.That((await raw.ReadHeadAsync(ct)).Status, Is.EqualTo(101));
    }

    [Test, CancelAfter(20000)]
    public async Task ClientCloses_With4000_DaemonEchoesTheCode(CancellationToken ct)
    {
        await using var daemon = await StartDemoDaemonAsync();
        using var client = await daemon.ConnectAsync(ct);
        await client.Socket.CloseAsync((WebSocketCloseStatus)4000, "bye", ct);

        Assert.That(client.Socket.CloseStatus, Is.EqualTo((WebSocketCloseStatus)4000), "RFC 6455 §5.5.1: echo the status code received");
    }

    [Test, CancelAfter(20000)]
    public async Task Favicon_Get_IsServed(CancellationToken ct)
    {
        await using var daemon = await StartDemoDaemonAsync();
        using var http = new HttpClient();
        using var response = await http.GetAsync(new Uri(daemon.HttpUri, "/favicon.ico"), ct);

        Assert.Multiple(() =>
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("image/svg+xml"));
        });
    }

    [Test, CancelAfter(30000)]
    public async Task PlainRoutes_BothEngines_SameStatusHeadersAndBody(CancellationToken ct)
    {
        // This engine against HttpListener, the reference: what a client sees must not depend on the engine.
        await using var daemon = await StartDemoDaemonAsync(s => s with { AccessTokens = [Token] });
        await using var reference = await DaemonFixture.StartDemoAsync(s => s with { AccessTokens = [Token] });
        using var http = new HttpClient();
        foreach (var (method, path) in new[] { ("GET", "/"), ("HEAD", "/"), ("GET", "/healthz"), ("GET", "/metrics"), ("GET", "/nope"), ("POST", "/"), ("PUT", "/metrics"), ("GET", "/ws"), ("GET", "/favicon.ico") })
        {
            var mine = await FetchAsync(http, method, new Uri(daemon.HttpUri, path), ct);
            var theirs = await FetchAsync(http, method, new Uri(reference.HttpUri, path), ct);
            Assert.That(mine, Is.EqualTo(theirs), $"{method} {path}");
        }
    }

    private static async Task<string> FetchAsync(HttpClient http, string method, Uri uri, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), uri);
        using var response = await http.SendAsync(request, ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        string H(string name) => response.Headers.TryGetValues(name, out var v) || response.Content.Headers.TryGetValues(name, out v) ? string.Join(",", v) : "-";
        return $"{(int)response.StatusCode} type={H("Content-Type")} length={H("Content-Length")} cache={H("Cache-Control")} allow={H("Allow")} auth={H("WWW-Authenticate")} body={body}";
    }
}
