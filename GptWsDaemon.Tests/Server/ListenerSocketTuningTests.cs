using System.Net;
using System.Net.WebSockets;
using System.Text;
using GptWsDaemon.Server;
using GptWsDaemon.Tests.Support;

namespace GptWsDaemon.Tests.Server;

/// <summary>The reflection that reaches HttpListener's socket must keep working on the runtime we ship with.</summary>
[Category("loopback")]
[TestFixture]
public sealed class ListenerSocketTuningTests
{
    [Test, CancelAfter(10000)]
    public async Task TrySetNoDelay_OnAnAcceptedContext_ReachesTheSocket(CancellationToken ct)
    {
        var port = DaemonFixture.FreePort();
        using var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        using var http = new HttpClient();
        var request = http.GetAsync(new Uri($"http://127.0.0.1:{port}/"), ct);

        var context = await listener.GetContextAsync().WaitAsync(ct);
        var reached = ListenerSocketTuning.TrySetNoDelay(context);
        context.Response.Close();
        (await request).Dispose();

        Assert.That(reached, Is.True);
    }

    [Test, CancelAfter(10000)]
    public async Task DataPath_OfAnAcceptedWebSocket_IsTheInnerSocket_AndCarriesMessagesBothWays(CancellationToken ct)
    {
        using var pair = await UpgradedPair.OpenAsync(ct);
        var (client, context, accepted) = (pair.Client, pair.Context, pair.Accepted);

        var data = ListenerSocketTuning.DataPath(accepted);
        Assert.That(data, Is.Not.SameAs(accepted), "HttpListener's wrapper was not unwrapped: receives would allocate again");

        await client.SendAsync("ping"u8.ToArray(), WebSocketMessageType.Text, true, ct);
        var buffer = new byte[16];
        var peek = await data.ReceiveAsync(Memory<byte>.Empty, ct);
        var got = await data.ReceiveAsync(buffer.AsMemory(), ct);
        Assert.That((peek.Count, Encoding.UTF8.GetString(buffer, 0, got.Count), got.EndOfMessage), Is.EqualTo((0, "ping", true)));

        await data.SendAsync("pong"u8.ToArray(), WebSocketMessageType.Text, true, ct);
        var back = await client.ReceiveAsync(buffer.AsMemory(), ct);
        Assert.That(Encoding.UTF8.GetString(buffer, 0, back.Count), Is.EqualTo("pong"));

        // Disposing the wrapper still ends the connection: the client's next receive does not wait forever.
        accepted.Dispose();
        Assert.That(async () => await client.ReceiveAsync(buffer.AsMemory(), ct), Throws.InstanceOf<WebSocketException>());
    }

    [Test, CancelAfter(10000)]
    public async Task ReleaseRequestBuffer_AfterTheUpgrade_FreesIt_AndTheWebSocketStillWorks(CancellationToken ct)
    {
        using var pair = await UpgradedPair.OpenAsync(ct);
        var (client, context, accepted) = (pair.Client, pair.Context, pair.Accepted);

        Assert.That(ListenerSocketTuning.ReleaseRequestBuffer(context), Is.True, "the 8 KiB request buffer was not reached");
        Assert.That(ListenerSocketTuning.ReleaseRequestBuffer(context), Is.False, "released twice: the first call did not drop it");

        var data = ListenerSocketTuning.DataPath(accepted);
        await client.SendAsync("ping"u8.ToArray(), WebSocketMessageType.Text, true, ct);
        var buffer = new byte[16];
        var got = await data.ReceiveAsync(buffer.AsMemory(), ct);
        await data.SendAsync(buffer.AsMemory(0, got.Count), WebSocketMessageType.Text, true, ct);
        var back = await client.ReceiveAsync(buffer.AsMemory(), ct);
        Assert.That(Encoding.UTF8.GetString(buffer, 0, back.Count), Is.EqualTo("ping"));

        // The close handshake and the listener's own clean-up run without the buffer.
        await client.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, ct);
        var close = await data.ReceiveAsync(buffer.AsMemory(), ct);
        await data.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, ct);
        accepted.Dispose();
        Assert.That(close.MessageType, Is.EqualTo(WebSocketMessageType.Close));
    }

    /// <summary>A client WebSocket and the one HttpListener accepted for it, with the listener's context.</summary>
    private sealed class UpgradedPair : IDisposable
    {
        private readonly HttpListener _listener;

        private UpgradedPair(HttpListener listener, ClientWebSocket client, HttpListenerContext context, WebSocket accepted)
        {
            _listener = listener;
            (Client, Context, Accepted) = (client, context, accepted);
        }

        public ClientWebSocket Client { get; }

        public HttpListenerContext Context { get; }

        public WebSocket Accepted { get; }

        public static async Task<UpgradedPair> OpenAsync(CancellationToken ct)
        {
            var port = DaemonFixture.FreePort();
            var listener = new HttpListener();
            listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            listener.Start();
            var client = new ClientWebSocket();
            var connecting = client.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/"), ct);
            var context = await listener.GetContextAsync().WaitAsync(ct);
            var accepted = (await context.AcceptWebSocketAsync(null)).WebSocket;
            await connecting;
            return new UpgradedPair(listener, client, context, accepted);
        }

        public void Dispose()
        {
            Client.Dispose();
            ((IDisposable)_listener).Dispose();
        }
    }

    [Test]
    public void DataPath_OfAnyOtherWebSocket_IsItself()
    {
        using var plain = WebSocket.CreateFromStream(new MemoryStream(), isServer: true, subProtocol: null, keepAliveInterval: TimeSpan.Zero);

        Assert.That(ListenerSocketTuning.DataPath(plain), Is.SameAs(plain));
    }
}
