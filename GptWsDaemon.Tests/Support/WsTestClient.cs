using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace GptWsDaemon.Tests.Support;

/// <summary>A real <see cref="ClientWebSocket"/> with helpers to send requests and collect a stream's frames.</summary>
public sealed class WsTestClient : IDisposable
{
    private readonly List<JsonElement> _backlog = [];

    private WsTestClient(ClientWebSocket socket) => Socket = socket;

    public ClientWebSocket Socket { get; }

    public static async Task<WsTestClient> ConnectAsync(Uri uri, CancellationToken cancellationToken, Action<ClientWebSocketOptions>? options = null)
    {
        var socket = new ClientWebSocket();
        options?.Invoke(socket.Options);
        await socket.ConnectAsync(uri, cancellationToken);
        return new WsTestClient(socket);
    }

    public Task SendAsync(string text, CancellationToken cancellationToken) =>
        Socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, cancellationToken);

    public Task SendAsync(object frame, CancellationToken cancellationToken) => SendAsync(JsonSerializer.Serialize(frame), cancellationToken);

    /// <summary>The next frame from the daemon, or null when it closed the socket.</summary>
    public async Task<JsonElement?> ReceiveAsync(CancellationToken cancellationToken)
    {
        if (_backlog.Count > 0)
        {
            var first = _backlog[0];
            _backlog.RemoveAt(0);
            return first;
        }

        return await ReceiveRawAsync(cancellationToken);
    }

    /// <summary>Collects frames of <paramref name="seq"/> up to and including its final frame; other frames are kept for later.</summary>
    public async Task<StreamResult> ReadStreamAsync(string seq, CancellationToken cancellationToken)
    {
        var frames = new List<JsonElement>();
        var i = 0;
        while (true)
        {
            JsonElement frame;
            if (i < _backlog.Count)
            {
                frame = _backlog[i];
                if (SeqOf(frame) != seq)
                {
                    i++;
                    continue;
                }

                _backlog.RemoveAt(i);
            }
            else
            {
                var next = await ReceiveRawAsync(cancellationToken) ?? throw new InvalidOperationException($"socket closed before stream {seq} ended");
                if (SeqOf(next) != seq)
                {
                    _backlog.Add(next);
                    i++;
                    continue;
                }

                frame = next;
            }

            frames.Add(frame);
            if (frame.GetProperty("data").GetProperty("finish_reason").ValueKind != JsonValueKind.Null)
            {
                return new StreamResult(frames);
            }
        }
    }

    public void Dispose() => Socket.Dispose();

    private static string? SeqOf(JsonElement frame) => frame.TryGetProperty("seq", out var s) ? s.ValueKind == JsonValueKind.String ? s.GetString() : s.GetRawText() : null;

    private async Task<JsonElement?> ReceiveRawAsync(CancellationToken cancellationToken)
    {
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        while (true)
        {
            var result = await Socket.ReceiveAsync(buffer, cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                // Answer the close handshake, as browsers do.
                if (Socket.State == WebSocketState.CloseReceived)
                {
                    await Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, cancellationToken);
                }

                return null;
            }

            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                // Every frame the daemon sends must follow the published contract (docs/schema/daemon-frame.json).
                var frame = JsonDocument.Parse(message.ToArray()).RootElement.Clone();
                FrameSchema.AssertDaemonFrame(frame);
                return frame;
            }
        }
    }
}

/// <summary>The frames of one stream, final frame last.</summary>
public sealed class StreamResult(List<JsonElement> frames)
{
    public IReadOnlyList<JsonElement> Frames { get; } = frames;

    public JsonElement Final => Frames[^1];

    public IEnumerable<JsonElement> ContentFrames => Frames.Take(Frames.Count - 1);

    public string Text => string.Concat(ContentFrames.Select(f => f.GetProperty("data").GetProperty("contents").GetString()));

    public string FinishReason => Final.GetProperty("data").GetProperty("finish_reason").GetString()!;

    public int Code => Final.GetProperty("code").GetInt32();

    public string Message => Final.GetProperty("msg").GetString()!;
}
