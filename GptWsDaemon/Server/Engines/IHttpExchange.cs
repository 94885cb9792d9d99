using System.Net.WebSockets;

namespace GptWsDaemon.Server.Engines;

/// <summary>
/// One HTTP request as an engine hands it to <see cref="HttpFront"/>: what routing and the upgrade gate read, and the two
/// ways to answer it — a plain response or a WebSocket. Everything above this seam is written once for both engines.
/// </summary>
public interface IHttpExchange
{
    /// <summary>The request method (GET, HEAD, …).</summary>
    string Method { get; }

    /// <summary>The path, without the query.</summary>
    string Path { get; }

    /// <summary>The Host header the client sent ("127.0.0.1:8808"), or null.</summary>
    string? Host { get; }

    /// <summary>The peer's address as text, for logs.</summary>
    string? RemoteAddress { get; }

    /// <summary>True when the request asks for a WebSocket upgrade.</summary>
    bool IsWebSocketRequest { get; }

    /// <summary>
    /// True when the engine closes the connection as soon as the request handler returns (Kestrel): the handler must then
    /// run the WebSocket to its end. False when the socket lives on by itself (HttpListener).
    /// </summary>
    bool UpgradeEndsWithHandler { get; }

    /// <summary>A request header (repeated ones joined with commas), or null.</summary>
    string? Header(string name);

    /// <summary>A query-string parameter, or null.</summary>
    string? QueryValue(string name);

    /// <summary>Answers with <paramref name="status"/>, the body (not sent for HEAD), <c>Cache-Control: no-store</c>, and one optional header.</summary>
    Task RespondAsync(int status, string contentType, ReadOnlyMemory<byte> body, (string Name, string Value)? header = null);

    /// <summary>Completes the handshake, selecting <paramref name="subProtocol"/> (which the client offered) or none.</summary>
    Task<WebSocket> AcceptWebSocketAsync(string? subProtocol, TimeSpan keepAlive);
}
