using System.Buffers;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;

namespace GptWsBench.Load;

/// <summary>One WebSocket to the daemon, running one stream at a time: send the request frame, read frames to the final one.</summary>
public sealed class WsWorker : IStreamWorker
{
    private readonly ClientWebSocket _socket;
    private readonly bool _originStream;
    private readonly string? _segment;
    private readonly string _extraData;
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(8192);

    /// <summary>Wraps an open socket.</summary>
    public WsWorker(ClientWebSocket socket, bool originStream, string? segment = null, string extraData = "")
    {
        _extraData = extraData;
        _socket = socket;
        _originStream = originStream;
        _segment = segment;
    }

    /// <inheritdoc/>
    public async Task RunAsync(StreamTracker tracker, CancellationToken cancellationToken)
    {
        var seq = Encoding.ASCII.GetBytes("s" + tracker.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var request = ChatBodies.Daemon(tracker.Id, _originStream, _segment, _extraData);
        try
        {
            tracker.Started(Stopwatch.GetTimestamp());
            await _socket.SendAsync(request, WebSocketMessageType.Text, endOfMessage: true, cancellationToken).ConfigureAwait(false);
            while (true)
            {
                var length = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    if (length == _buffer.Length)
                    {
                        var bigger = ArrayPool<byte>.Shared.Rent(_buffer.Length * 2);
                        _buffer.AsSpan(0, length).CopyTo(bigger);
                        ArrayPool<byte>.Shared.Return(_buffer);
                        _buffer = bigger;
                    }

                    result = await _socket.ReceiveAsync(_buffer.AsMemory(length), cancellationToken).ConfigureAwait(false);
                    length += result.Count;
                }
                while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);

                if (result.MessageType == WebSocketMessageType.Close)
                {
                    tracker.Fail($"daemon closed the socket: {_socket.CloseStatus} {_socket.CloseStatusDescription}");
                    return;
                }

                if (FrameReader.DaemonFrame(_buffer.AsSpan(0, length), seq, Stopwatch.GetTimestamp(), tracker))
                {
                    return;
                }
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or System.Text.Json.JsonException or IOException)
        {
            tracker.Fail(e.GetType().Name + ": " + e.Message);
        }
    }

    /// <summary>True while the socket can carry another stream.</summary>
    public bool IsOpen => _socket.State == WebSocketState.Open;

    /// <inheritdoc/>
    public ValueTask DisposeAsync()
    {
        _socket.Abort();
        _socket.Dispose();
        ArrayPool<byte>.Shared.Return(_buffer);
        return ValueTask.CompletedTask;
    }
}
