using System.Net;
using System.Net.Sockets;
using System.Text;

namespace GptWsDaemon.Tests.Support;

/// <summary>A bare TCP client for handshakes no library would send: raw request bytes out, the response head parsed.</summary>
public sealed class RawHttp : IDisposable
{
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _filled;

    private RawHttp(Socket socket) => Socket = socket;

    public Socket Socket { get; }

    public static async Task<RawHttp> ConnectAsync(int port, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancellationToken);
        return new RawHttp(socket);
    }

    /// <summary>A WebSocket upgrade request for <paramref name="path"/> with these extra header lines.</summary>
    public static string Upgrade(int port, string path = "/ws", params string[] headers) =>
        $"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
        string.Concat(headers.Select(h => h + "\r\n")) + "\r\n";

    public Task SendAsync(string text, CancellationToken cancellationToken) => SendAsync(Encoding.ASCII.GetBytes(text), cancellationToken);

    public async Task SendAsync(byte[] bytes, CancellationToken cancellationToken) => await Socket.SendAsync(bytes, SocketFlags.None, cancellationToken);

    /// <summary>Reads up to the end of the response head: status code and headers (names lower-cased; repeated ones joined).</summary>
    public async Task<RawResponse> ReadHeadAsync(CancellationToken cancellationToken)
    {
        int end;
        while ((end = _buffer.AsSpan(0, _filled).IndexOf("\r\n\r\n"u8)) < 0)
        {
            var n = await Socket.ReceiveAsync(_buffer.AsMemory(_filled), SocketFlags.None, cancellationToken);
            if (n == 0)
            {
                throw new IOException($"connection closed before the response head ended: '{Encoding.ASCII.GetString(_buffer, 0, _filled)}'");
            }

            _filled += n;
        }

        var lines = Encoding.ASCII.GetString(_buffer, 0, end).Split("\r\n");
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var name = line[..colon].Trim();
            var value = line[(colon + 1)..].Trim();
            headers[name] = headers.TryGetValue(name, out var before) ? before + ", " + value : value;
        }

        var rest = _buffer.AsSpan(end + 4, _filled - end - 4).ToArray();
        _filled = 0;
        return new RawResponse(int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture), headers, rest);
    }

    /// <summary>True when the peer closes (or resets) the connection within <paramref name="timeout"/>; data is read and dropped.</summary>
    public async Task<bool> ClosedWithinAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        var sink = new byte[4096];
        try
        {
            while (await Socket.ReceiveAsync(sink, SocketFlags.None, limit.Token) > 0)
            {
            }

            return true;
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    public void Dispose() => Socket.Dispose();
}

/// <summary>A parsed response head and whatever bytes followed it in the same reads.</summary>
public sealed record RawResponse(int Status, IReadOnlyDictionary<string, string> Headers, byte[] Rest)
{
    public string? Header(string name) => Headers.TryGetValue(name, out var v) ? v : null;
}
