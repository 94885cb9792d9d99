using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text.Json;
using GptWsDaemon.Tests.Support;

namespace GptWsDaemon.Tests.Processes;

/// <summary>
/// protocol.md §3 on the real process: "an upgrade (and /metrics) without a valid token is refused with HTTP 401 before the
/// WebSocket opens. The token comes as Authorization: Bearer T or ?token=T"; "server.allowed_origins rejects other
/// Origins with 403; a handshake with no Origin header is allowed."
/// </summary>
[NonParallelizable]
[Category("process")]
[TestFixture]
public sealed class AuthTests
{
    private const string Token = "tok-AUTHTOKEN-0001";
    private DaemonProcess? _withToken;
    private DaemonProcess? _withOrigins;

    private DaemonProcess WithToken => _withToken ?? throw new InvalidOperationException("setup failed");

    private DaemonProcess WithOrigins => _withOrigins ?? throw new InvalidOperationException("setup failed");

    [OneTimeSetUp]
    public async Task StartDaemonsAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var withToken = DaemonProcess.StartAsync(["--access-token", Token], cts.Token);
        var withOrigins = DaemonProcess.StartAsync([], cts.Token, ini: "[server]\nallowed_origins = https://good.example\n");
        Task<DaemonProcess>[] starts = [withToken, withOrigins];
        try
        {
            await Task.WhenAll(starts);
        }
        catch
        {
            foreach (var started in starts.Where(t => t.IsCompletedSuccessfully))
            {
                await (await started).DisposeAsync();
            }

            throw;
        }

        _withToken = await withToken;
        _withOrigins = await withOrigins;
    }

    [OneTimeTearDown]
    public async Task StopDaemonsAsync()
    {
        if (_withToken is not null)
        {
            await _withToken.DisposeAsync();
        }

        if (_withOrigins is not null)
        {
            await _withOrigins.DisposeAsync();
        }
    }

    [Test, CancelAfter(20000)]
    public async Task Upgrade_WithoutToken_Refused401(CancellationToken ct)
    {
        Assert.That(await RefusedStatusAsync(WithToken.WsUri, null, ct), Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test, CancelAfter(20000)]
    public async Task Upgrade_WrongToken_Refused401(CancellationToken ct)
    {
        var byQuery = await RefusedStatusAsync(new Uri(WithToken.WsUri + "?token=tok-NOT-THE-TOKEN"), null, ct);
        var byHeader = await RefusedStatusAsync(WithToken.WsUri, o => o.SetRequestHeader("Authorization", "Bearer tok-NOT-THE-TOKEN"), ct);
        // A prefix of the right token is still wrong.
        var prefix = await RefusedStatusAsync(new Uri(WithToken.WsUri + "?token=" + Token[..^1]), null, ct);

        Assert.Multiple(() =>
        {
            Assert.That(byQuery, Is.EqualTo(HttpStatusCode.Unauthorized));
            Assert.That(byHeader, Is.EqualTo(HttpStatusCode.Unauthorized));
            Assert.That(prefix, Is.EqualTo(HttpStatusCode.Unauthorized));
        });
    }

    [Test, CancelAfter(20000)]
    public async Task Upgrade_BearerHeader_Opens(CancellationToken ct)
    {
        using var client = await WsTestClient.ConnectAsync(WithToken.WsUri, ct, o => o.SetRequestHeader("Authorization", "Bearer " + Token));
        await AssertPongAsync(client, ct);
    }

    [Test, CancelAfter(20000)]
    public async Task Upgrade_QueryToken_Opens(CancellationToken ct)
    {
        using var client = await WsTestClient.ConnectAsync(new Uri(WithToken.WsUri + "?token=" + Token), ct);
        await AssertPongAsync(client, ct);
    }

    [Test, CancelAfter(20000)]
    public async Task Metrics_WithoutAndWithToken_401Then200(CancellationToken ct)
    {
        using var http = new HttpClient();
        var metrics = new Uri(WithToken.HttpUri, "/metrics");
        using var anonymous = await http.GetAsync(metrics, ct);
        using var wrong = await SendWithBearerAsync(http, metrics, "tok-NOT-THE-TOKEN", ct);
        using var byHeader = await SendWithBearerAsync(http, metrics, Token, ct);
        using var byQuery = await http.GetAsync(new Uri(metrics + "?token=" + Token), ct);
        var body = await byHeader.Content.ReadAsStringAsync(ct);

        Assert.Multiple(() =>
        {
            Assert.That(anonymous.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
            Assert.That(wrong.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
            Assert.That(byHeader.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(byQuery.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(body, Does.Contain("gptws_connections"));
        });
    }

    [Test, CancelAfter(20000)]
    public async Task Healthz_WithTokensConfigured_StaysOpenForBalancers(CancellationToken ct)
    {
        using var http = new HttpClient();
        using var response = await http.GetAsync(new Uri(WithToken.HttpUri, "/healthz"), ct);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test, CancelAfter(20000)]
    public async Task Upgrade_OriginNotAllowed_Refused403(CancellationToken ct)
    {
        var status = await RefusedStatusAsync(WithOrigins.WsUri, o => o.SetRequestHeader("Origin", "https://evil.example"), ct);

        Assert.That(status, Is.EqualTo(HttpStatusCode.Forbidden));
    }

    [Test, CancelAfter(20000)]
    public async Task Upgrade_AllowedOrigin_Opens(CancellationToken ct)
    {
        using var client = await WsTestClient.ConnectAsync(WithOrigins.WsUri, ct, o => o.SetRequestHeader("Origin", "https://good.example"));
        await AssertPongAsync(client, ct);
    }

    [Test, CancelAfter(20000)]
    public async Task Upgrade_NoOriginWithOriginList_Opens(CancellationToken ct)
    {
        using var client = await WsTestClient.ConnectAsync(WithOrigins.WsUri, ct);
        await AssertPongAsync(client, ct);
    }

    /// <summary>Tries to open a WebSocket that must be refused; returns the HTTP status of the refusal.</summary>
    private static async Task<HttpStatusCode> RefusedStatusAsync(Uri uri, Action<ClientWebSocketOptions>? options, CancellationToken ct)
    {
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        options?.Invoke(socket.Options);
        try
        {
            await socket.ConnectAsync(uri, ct);
        }
        catch (WebSocketException)
        {
            return socket.HttpStatusCode;
        }

        Assert.Fail($"the WebSocket to {uri} opened but should have been refused");
        return HttpStatusCode.SwitchingProtocols;
    }

    private static async Task<HttpResponseMessage> SendWithBearerAsync(HttpClient http, Uri uri, string token, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await http.SendAsync(request, ct);
    }

    /// <summary>The socket is really open: a ping is answered.</summary>
    private static async Task AssertPongAsync(WsTestClient client, CancellationToken ct)
    {
        await client.SendAsync(new { action = "ping" }, ct);
        var pong = await client.ReceiveAsync(ct);

        Assert.That(pong, Is.Not.Null, "closed instead of answering the ping");
        Assert.That(pong!.Value.GetProperty("msg").GetString(), Is.EqualTo("pong"));
        Assert.That(pong.Value.GetProperty("code").ValueKind, Is.EqualTo(JsonValueKind.Number));
    }
}
