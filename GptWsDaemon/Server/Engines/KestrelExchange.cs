using System.Collections.Specialized;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http.Features;

namespace GptWsDaemon.Server.Engines;

/// <summary>Kestrel's features for one request seen through <see cref="IHttpExchange"/>; the WebSocket handshake is done here (RFC 6455 §4.2.2).</summary>
internal sealed class KestrelExchange : IHttpExchange
{
    private readonly IFeatureCollection _features;
    private readonly IHttpRequestFeature _request;
    private NameValueCollection? _query;

    public KestrelExchange(IFeatureCollection features)
    {
        _features = features;
        _request = features.GetRequiredFeature<IHttpRequestFeature>();
        IsWebSocketRequest = _features.Get<IHttpUpgradeFeature>()?.IsUpgradableRequest == true
            && HasToken(Header("Upgrade"), "websocket");
    }

    public string Method => _request.Method;

    public string Path => _request.Path.Length == 0 ? "/" : _request.Path;

    public string? Host => Header("Host");

    public string? RemoteAddress => _features.Get<IHttpConnectionFeature>() is { RemoteIpAddress: { } ip } c ? new System.Net.IPEndPoint(ip, c.RemotePort).ToString() : null; // [v6]:port, as HttpListener gives it

    public bool IsWebSocketRequest { get; }

    public bool UpgradeEndsWithHandler => true;

    public string? Header(string name) => _request.Headers.TryGetValue(name, out var v) && v.Count > 0 ? v.ToString() : null;

    public string? QueryValue(string name) => (_query ??= System.Web.HttpUtility.ParseQueryString(_request.QueryString))[name];

    public async Task RespondAsync(int status, string contentType, ReadOnlyMemory<byte> body, (string Name, string Value)? header = null)
    {
        var response = _features.GetRequiredFeature<IHttpResponseFeature>();
        response.StatusCode = status;
        response.Headers.ContentType = contentType;
        response.Headers.ContentLength = body.Length;
        response.Headers.CacheControl = "no-store";
        if (header is { } h)
        {
            response.Headers[h.Name] = h.Value;
        }

        var output = _features.GetRequiredFeature<IHttpResponseBodyFeature>();
        if (Method != "HEAD" && body.Length > 0)
        {
            await output.Writer.WriteAsync(body).ConfigureAwait(false);
        }

        await output.CompleteAsync().ConfigureAwait(false);
    }

    public async Task<WebSocket> AcceptWebSocketAsync(string? subProtocol, TimeSpan keepAlive)
    {
        var response = _features.GetRequiredFeature<IHttpResponseFeature>();
        response.Headers["Upgrade"] = "websocket";
        response.Headers["Sec-WebSocket-Accept"] = AcceptKey(Header("Sec-WebSocket-Key") ?? string.Empty);
        if (subProtocol is not null)
        {
            response.Headers["Sec-WebSocket-Protocol"] = subProtocol;
        }

        // Kestrel sends the 101 with Connection: Upgrade and hands over the raw duplex stream.
        var stream = await _features.GetRequiredFeature<IHttpUpgradeFeature>().UpgradeAsync().ConfigureAwait(false);
        return WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = keepAlive, SubProtocol = subProtocol });
    }

    /// <summary>RFC 6455 §4.2.2: base64(SHA-1(key + the protocol's GUID)).</summary>
#pragma warning disable CA5350 // the protocol fixes SHA-1 here; it proves the server read the key, it protects nothing
    internal static string AcceptKey(string key) =>
        Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key.Trim() + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
#pragma warning restore CA5350

    private static bool HasToken(string? header, string token)
    {
        foreach (var part in (header ?? string.Empty).Split(','))
        {
            if (part.Trim().Equals(token, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
