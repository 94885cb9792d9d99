using System.Net;
using System.Net.WebSockets;

namespace GptWsDaemon.Server.Engines;

/// <summary>An <see cref="HttpListenerContext"/> seen through <see cref="IHttpExchange"/>.</summary>
internal sealed class ListenerExchange : IHttpExchange
{
    private HttpListenerContext? _context;

    public ListenerExchange(HttpListenerContext context)
    {
        _context = context;
        var request = context.Request;
        Method = request.HttpMethod;
        Path = request.Url?.AbsolutePath ?? "/";
        IsWebSocketRequest = request.IsWebSocketRequest;
    }

    public string Method { get; }

    public string Path { get; }

    public string? Host => Context.Request.Headers["Host"];

    public string? RemoteAddress => Context.Request.RemoteEndPoint?.ToString();

    public bool IsWebSocketRequest { get; }

    public bool UpgradeEndsWithHandler => false;

    private HttpListenerContext Context => _context ?? throw new InvalidOperationException("the exchange was handed over to its WebSocket");

    public string? Header(string name) => Context.Request.Headers[name];

    public string? QueryValue(string name) => Context.Request.QueryString[name];

    public async Task RespondAsync(int status, string contentType, ReadOnlyMemory<byte> body, (string Name, string Value)? header = null)
    {
        var context = Context;
        var response = context.Response;
        try
        {
            response.StatusCode = status;
            response.ContentType = contentType;
            response.ContentLength64 = body.Length;
            response.Headers["Cache-Control"] = "no-store";
            if (header is { } h)
            {
                response.AddHeader(h.Name, h.Value);
            }

            if (Method != "HEAD" && body.Length > 0)
            {
                await response.OutputStream.WriteAsync(body).ConfigureAwait(false);
            }

            response.Close();
        }
        catch
        {
            response.Abort();
            throw;
        }
    }

    public async Task<WebSocket> AcceptWebSocketAsync(string? subProtocol, TimeSpan keepAlive)
    {
        var context = Context;
        if (subProtocol is null)
        {
            // Given none, HttpListener answers an offer with an empty Sec-WebSocket-Protocol header, which every client
            // rejects (RFC 6455 §4.1: the server's value must be one of the offered ones, or the header absent).
            context.Request.Headers.Remove("Sec-WebSocket-Protocol");
        }

        ListenerSocketTuning.TrySetNoDelay(context);
        var socket = (await context.AcceptWebSocketAsync(subProtocol, 4096, keepAlive).ConfigureAwait(false)).WebSocket;
        ListenerSocketTuning.ReleaseRequestBuffer(context);

        // The connection outlives this request: let its context and header tables be collected (~2 KiB per connection).
        _context = null;
        return socket;
    }
}
