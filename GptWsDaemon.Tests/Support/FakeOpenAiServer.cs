using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace GptWsDaemon.Tests.Support;

/// <summary>
/// A scripted OpenAI stand-in on a real loopback socket (port 0): speaks just enough HTTP/1.1 for HttpClient, lets each
/// test script the response (status, SSE bytes in any chunking, hangs, resets) and records every request and when its
/// TCP connection was closed by the daemon.
/// </summary>
public sealed class FakeOpenAiServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _cts = new();
    private readonly ConcurrentQueue<FakeRequest> _requests = new();
    private readonly List<Task> _connections = [];
    private readonly Task _acceptLoop;
    private readonly Func<FakeRequest, FakeResponse, Task> _script;

    public FakeOpenAiServer(Func<FakeRequest, FakeResponse, Task> script)
    {
        _script = script;
        _listener.Start();
        _acceptLoop = AcceptAsync();
    }

    public string BaseUrl => Root + "/v1";

    /// <summary>The server's origin, no path: the base URL of Azure and Anthropic, which add their own.</summary>
    public string Root => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    public IReadOnlyList<FakeRequest> Requests => [.. _requests];

    /// <summary>Waits until at least <paramref name="count"/> requests arrived.</summary>
    public async Task WaitForRequestAsync(CancellationToken cancellationToken, int count = 1)
    {
        while (_requests.Count < count)
        {
            await Task.Delay(10, cancellationToken);
        }
    }

    /// <summary>A script that streams these deltas as chat chunks, then a finish chunk, usage chunk and [DONE].</summary>
    public static Func<FakeRequest, FakeResponse, Task> Streams(IEnumerable<string> deltas, TimeSpan? delay = null, string finish = "stop") => async (req, res) =>
    {
        await res.StartSseAsync();
        foreach (var d in deltas)
        {
            await res.SendChunkAsync(d, req.IsCompletions);
            if (delay is { } t)
            {
                await Task.Delay(t, res.Aborted);
            }
        }

        await res.SendFinishAsync(finish, req.IsCompletions);
        await res.SendEventAsync("{\"id\":\"x\",\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3,\"total_tokens\":10}}");
        await res.SendEventAsync("[DONE]");
    };

    public async ValueTask DisposeAsync()
    {
        await _cts.CancelAsync();
        _listener.Stop();
        try
        {
            await _acceptLoop;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }

        Task[] all;
        lock (_connections)
        {
            all = [.. _connections];
        }

        await Task.WhenAny(Task.WhenAll(all), Task.Delay(2000));
        _cts.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_cts.IsCancellationRequested)
        {
            var client = await _listener.AcceptTcpClientAsync(_cts.Token);
            lock (_connections)
            {
                _connections.Add(ServeAsync(client));
            }
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using var _ = client;
        var stream = client.GetStream();
        FakeRequest request;
        try
        {
            request = await ReadRequestAsync(stream);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or OperationCanceledException)
        {
            return;
        }

        _requests.Enqueue(request);
        var response = new FakeResponse(client, stream, request);
        var watcher = response.WatchForCloseAsync();
        try
        {
            await _script(request, response);
            await response.EndAsync();
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The daemon went away mid-response: that is what some tests want to see.
        }

        await Task.WhenAny(watcher, Task.Delay(TimeSpan.FromSeconds(5), CancellationToken.None));
    }

    /// <summary>Reads one request (head and Content-Length body); throws InvalidDataException when the peer closes first.</summary>
    internal static async Task<FakeRequest> ReadRequestAsync(Stream stream)
    {
        var head = new MemoryStream();
        var one = new byte[1];
        while (!EndsWithBlankLine(head))
        {
            if (await stream.ReadAsync(one) == 0)
            {
                throw new InvalidDataException("closed before headers");
            }

            head.WriteByte(one[0]);
        }

        var lines = Encoding.ASCII.GetString(head.ToArray()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        var parts = lines[0].Split(' ');
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':');
            headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }

        var length = headers.TryGetValue("Content-Length", out var cl) ? int.Parse(cl) : 0;
        var body = new byte[length];
        await stream.ReadExactlyAsync(body);
        return new FakeRequest(parts[0], parts[1], headers, body);
    }

    private static bool EndsWithBlankLine(MemoryStream s) =>
        s.Length >= 4 && s.GetBuffer().AsSpan((int)s.Length - 4, 4).SequenceEqual("\r\n\r\n"u8);
}

/// <summary>One request the fake upstream received.</summary>
public sealed class FakeRequest(string method, string path, Dictionary<string, string> headers, byte[] body)
{
    private readonly TaskCompletionSource<DateTime> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string Method { get; } = method;

    public string Path { get; } = path;

    public IReadOnlyDictionary<string, string> Headers { get; } = headers;

    public JsonElement Body { get; } = body.Length > 0 ? JsonDocument.Parse(body).RootElement : default;

    public bool IsCompletions => Path.EndsWith("/completions", StringComparison.Ordinal) && !Path.EndsWith("/chat/completions", StringComparison.Ordinal);

    /// <summary>Completes (with the time) when the daemon closes this request's TCP connection.</summary>
    public Task<DateTime> ClosedTask => _closed.Task;

    internal void MarkClosed() => _closed.TrySetResult(DateTime.UtcNow);
}

/// <summary>The scripted side of one response.</summary>
public sealed class FakeResponse(TcpClient client, NetworkStream stream, FakeRequest request)
{
    private readonly CancellationTokenSource _aborted = new();
    private bool _headersSent;

    /// <summary>Cancelled when the daemon closes the connection.</summary>
    public CancellationToken Aborted => _aborted.Token;

    public async Task StartSseAsync() => await SendHeadAsync(200, "text/event-stream", null);

    public async Task SendHeadAsync(int status, string contentType, IDictionary<string, string>? extra)
    {
        var sb = new StringBuilder($"HTTP/1.1 {status} {(HttpStatusCode)status}\r\nContent-Type: {contentType}\r\nConnection: close\r\n");
        foreach (var (k, v) in extra ?? new Dictionary<string, string>())
        {
            sb.Append(k).Append(": ").Append(v).Append("\r\n");
        }

        sb.Append("\r\n");
        _headersSent = true;
        await WriteRawAsync(Encoding.ASCII.GetBytes(sb.ToString()));
    }

    /// <summary>Sends a whole JSON error response.</summary>
    public async Task SendErrorAsync(int status, string message, IDictionary<string, string>? extra = null)
    {
        var body = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new { error = new { message, type = "test" } }));
        var head = new Dictionary<string, string>(extra ?? new Dictionary<string, string>()) { ["Content-Length"] = body.Length.ToString() };
        await SendHeadAsync(status, "application/json", head);
        await WriteRawAsync(body);
    }

    public Task SendEventAsync(string data) => WriteRawAsync(Encoding.UTF8.GetBytes($"data: {data}\n\n"));

    public Task SendChunkAsync(string delta, bool completions) => SendEventAsync(completions
        ? JsonSerializer.Serialize(new { id = "c", @object = "text_completion", choices = new[] { new { text = delta, index = 0, finish_reason = (string?)null } } })
        : JsonSerializer.Serialize(new { id = "c", @object = "chat.completion.chunk", choices = new[] { new { index = 0, delta = new { content = delta }, finish_reason = (string?)null } } }));

    public Task SendFinishAsync(string finish, bool completions) => SendEventAsync(completions
        ? JsonSerializer.Serialize(new { id = "c", choices = new[] { new { text = "", index = 0, finish_reason = finish } } })
        : JsonSerializer.Serialize(new { id = "c", choices = new[] { new { index = 0, delta = new { }, finish_reason = finish } } }));

    /// <summary>Writes bytes as they are (any chunking the test wants), flushing each write onto the wire.</summary>
    public async Task WriteRawAsync(ReadOnlyMemory<byte> bytes)
    {
        await stream.WriteAsync(bytes, _aborted.Token);
        await stream.FlushAsync(_aborted.Token);
    }

    /// <summary>Sends a TCP reset instead of a clean end.</summary>
    public void Reset()
    {
        client.Client.LingerState = new LingerOption(true, 0);
        client.Client.Close();
    }

    /// <summary>Waits until the daemon gives up on this request.</summary>
    public async Task HangAsync() => await Task.Delay(Timeout.Infinite, _aborted.Token);

    internal async Task EndAsync()
    {
        if (!_headersSent)
        {
            await StartSseAsync();
        }

        if (client.Connected)
        {
            client.Client.Shutdown(SocketShutdown.Send);
        }
    }

    /// <summary>Reads in the background: a read of 0 bytes (or an error) means the daemon closed the connection.</summary>
    internal async Task WatchForCloseAsync()
    {
        await Task.Yield();
        var buffer = new byte[256];
        try
        {
            while (await stream.ReadAsync(buffer) > 0)
            {
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException)
        {
        }

        request.MarkClosed();
        await _aborted.CancelAsync();
    }
}
