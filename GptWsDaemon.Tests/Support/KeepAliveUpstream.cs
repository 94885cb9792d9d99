using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace GptWsDaemon.Tests.Support;

/// <summary>
/// An OpenAI stand-in on a real loopback socket that keeps connections open between responses (HTTP/1.1 keep-alive),
/// as real providers do, and writes each response body as the test scripts it: raw segments, each flushed on its own,
/// so a test decides where chunk headers, events and the end of the body fall. Counts the TCP connections it accepted.
/// </summary>
public sealed class KeepAliveUpstream : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _cts = new();
    private readonly ConcurrentBag<Task> _connections = [];
    private readonly Task _acceptLoop;
    private readonly Func<KeepAliveResponse, Task> _script;
    private int _accepted;

    public KeepAliveUpstream(Func<KeepAliveResponse, Task> script)
    {
        _script = script;
        _listener.Start();
        _acceptLoop = AcceptAsync();
    }

    public string BaseUrl => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/v1";

    public int ConnectionsAccepted => Volatile.Read(ref _accepted);

    /// <summary>The usual head of a streamed chat response with a chunked body.</summary>
    public static byte[] ChunkedHead { get; } = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"u8.ToArray();

    /// <summary>One SSE event carrying a chat delta.</summary>
    public static string Delta(string content) =>
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":" + System.Text.Json.JsonSerializer.Serialize(content) + "},\"finish_reason\":null}]}\n\n";

    /// <summary>The SSE event that finishes a chat stream.</summary>
    public const string Finish = "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n";

    /// <summary>Frames <paramref name="payload"/> as one HTTP/1.1 chunk.</summary>
    public static string Chunk(string payload) => Encoding.UTF8.GetByteCount(payload).ToString("x") + "\r\n" + payload + "\r\n";

    /// <summary>The last chunk of a chunked body.</summary>
    public const string LastChunk = "0\r\n\r\n";

    public async ValueTask DisposeAsync()
    {
        await _cts.CancelAsync();
        _listener.Stop();
        await Task.WhenAny(Task.WhenAll([_acceptLoop, .. _connections]), Task.Delay(2000));
        _cts.Dispose();
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (!_cts.IsCancellationRequested)
            {
                var client = await _listener.AcceptTcpClientAsync(_cts.Token);
                client.NoDelay = true;
                Interlocked.Increment(ref _accepted);
                _connections.Add(ServeAsync(client));
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using var _ = client;
        var stream = client.GetStream();
        try
        {
            while (!_cts.IsCancellationRequested)
            {
                var request = await FakeOpenAiServer.ReadRequestAsync(stream);
                var response = new KeepAliveResponse(client, stream, request, _cts.Token);
                await _script(response);
                if (response.Closed)
                {
                    return;
                }
            }
        }
        catch (Exception e) when (e is IOException or InvalidDataException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The client went away, or the test is over.
        }
    }
}

/// <summary>One response of <see cref="KeepAliveUpstream"/>: written segment by segment.</summary>
public sealed class KeepAliveResponse(TcpClient client, NetworkStream stream, FakeRequest request, CancellationToken stopping)
{
    public FakeRequest Request { get; } = request;

    internal bool Closed { get; private set; }

    /// <summary>Writes one segment as it is and flushes it onto the wire.</summary>
    public async Task SendAsync(string segment) => await SendAsync(Encoding.UTF8.GetBytes(segment));

    /// <summary>Writes one segment as it is and flushes it onto the wire.</summary>
    public async Task SendAsync(byte[] segment)
    {
        await stream.WriteAsync(segment, stopping);
        await stream.FlushAsync(stopping);
    }

    /// <summary>Writes each segment on its own, <paramref name="pause"/> apart.</summary>
    public async Task SendEachAsync(IEnumerable<string> segments, TimeSpan pause)
    {
        foreach (var segment in segments)
        {
            await SendAsync(segment);
            await Task.Delay(pause, stopping);
        }
    }

    /// <summary>Sends a TCP reset and ends the connection.</summary>
    public void Reset()
    {
        client.Client.LingerState = new LingerOption(true, 0);
        client.Client.Close();
        Closed = true;
    }

    /// <summary>
    /// Streams chunks like a model that keeps generating, <paramref name="pause"/> apart, until a write fails because the
    /// client closed the connection (or the test ends); returns how many were sent.
    /// </summary>
    public async Task<int> StreamUntilClosedAsync(Func<int, string> chunk, TimeSpan pause)
    {
        var sent = 0;
        try
        {
            while (true)
            {
                await SendAsync(chunk(sent));
                sent++;
                await Task.Delay(pause, stopping);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            Closed = true;
            return sent;
        }
    }

    /// <summary>Keeps the connection open and silent until the client closes it, with a FIN or a reset (or the test ends).</summary>
    public async Task HangAsync()
    {
        var buffer = new byte[64];
        try
        {
            while (await stream.ReadAsync(buffer, stopping) > 0)
            {
            }
        }
        catch (IOException)
        {
            // A reset: the daemon abandons connections that way.
        }

        Closed = true;
    }
}
