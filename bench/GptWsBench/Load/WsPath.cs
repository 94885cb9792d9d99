using System.Net;
using System.Net.WebSockets;

namespace GptWsBench.Load;

/// <summary>
/// Streams through GptWsDaemon: each concurrent client holds its own WebSocket and runs one stream at a time on it
/// (so 1,000 concurrent streams are 1,000 connections). All sockets share one handler, which keeps the client lean.
/// </summary>
public sealed class WsPath : IStreamPath
{
    private readonly HttpMessageInvoker _invoker;

    /// <summary>Creates the path for <paramref name="url"/> (ws://127.0.0.1:P/ws).</summary>
    public WsPath(string name, Uri url, bool originStream, string? segment = null, string extraData = "")
    {
        ExtraData = extraData;
        Name = name;
        Url = url;
        OriginStream = originStream;
        Segment = segment;
        _invoker = new HttpMessageInvoker(new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(10),
            UseProxy = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
        });
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <summary>The daemon's WebSocket URL.</summary>
    public Uri Url { get; }

    /// <summary>The request's origin_stream.</summary>
    public bool OriginStream { get; }

    /// <summary>The request's segment, or null for the daemon's default.</summary>
    public string? Segment { get; }

    /// <summary>JSON members added to every request's data.</summary>
    public string ExtraData { get; }

    /// <inheritdoc/>
    public int ReleaseLookahead => OriginStream ? 0 : 1;

    /// <inheritdoc/>
    public async Task<IStreamWorker> OpenWorkerAsync(CancellationToken cancellationToken) =>
        new WsWorker(await ConnectAsync(cancellationToken).ConfigureAwait(false), OriginStream, Segment, ExtraData);

    /// <summary>Opens one WebSocket to the daemon.</summary>
    public async Task<ClientWebSocket> ConnectAsync(CancellationToken cancellationToken)
    {
        var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = Timeout.InfiniteTimeSpan;
        socket.Options.SetBuffer(4096, 4096);
        try
        {
            await socket.ConnectAsync(Url, _invoker, cancellationToken).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync()
    {
        _invoker.Dispose();
        return ValueTask.CompletedTask;
    }
}
