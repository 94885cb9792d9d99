using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace GptWsBench.Upstream;

/// <summary>
/// A lean OpenAI stand-in on a loopback socket: just enough HTTP/1.1 (keep-alive, Content-Length bodies, chunked
/// replies) for HttpClient and Node's fetch. <c>POST …/chat/completions</c> streams the current <see cref="UpstreamPlan"/>:
/// the role chunk at once, then one token per tick of a <see cref="PeriodicTimer"/>, then finish, usage and [DONE].
/// The stream id comes from the user message (<c>bench#17#</c>) so the time each token was written can be recorded.
/// Per token it only waits for the timer and writes a prebuilt chunk: it competes with the gateway for the same 2 cores.
/// </summary>
public sealed class FakeUpstream : IAsyncDisposable
{
    private static readonly byte[] NotFound = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"u8.ToArray();
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _acceptLoop;
    private volatile UpstreamPlan _plan;
    private long _streamsStarted;
    private long _streamsCompleted;

    /// <summary>Binds 127.0.0.1:<paramref name="port"/> (0 = any free port) and starts accepting.</summary>
    public FakeUpstream(UpstreamPlan plan, int port = 0)
    {
        _plan = plan;
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
        _listener.Listen(4096);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        _acceptLoop = AcceptLoopAsync(_stopping.Token);
    }

    /// <summary>The bound port.</summary>
    public int Port { get; }

    /// <summary>The OpenAI base URL to give a gateway.</summary>
    public string BaseUrl => $"http://127.0.0.1:{Port}/v1";

    /// <summary>Streams started since the start.</summary>
    public long StreamsStarted => Interlocked.Read(ref _streamsStarted);

    /// <summary>Streams that sent [DONE].</summary>
    public long StreamsCompleted => Interlocked.Read(ref _streamsCompleted);

    /// <summary>The plan used by streams that start from now on.</summary>
    public UpstreamPlan Plan
    {
        get => _plan;
        set => _plan = value;
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        try
        {
            await _acceptLoop.ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }

        _stopping.Dispose();
    }

    private static async ValueTask SendAllAsync(Socket socket, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        while (!bytes.IsEmpty)
        {
            var sent = await socket.SendAsync(bytes, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            bytes = bytes[sent..];
        }
    }

    private static int ContentLength(ReadOnlySpan<byte> head)
    {
        // Header names are case-insensitive: HttpClient sends "Content-Length", Node sends "content-length".
        foreach (var range in head.Split("\r\n"u8))
        {
            var line = head[range];
            if (line.Length > 15 && System.Text.Ascii.EqualsIgnoreCase(line[..15], "content-length:"u8))
            {
                return Utf8Parser.TryParse(line[15..].TrimStart((byte)' '), out int length, out _) ? length : 0;
            }
        }

        return 0;
    }

    private static int StreamId(ReadOnlySpan<byte> body)
    {
        var at = body.IndexOf("bench#"u8);
        return at >= 0 && Utf8Parser.TryParse(body[(at + 6)..], out int id, out _) ? id : -1;
    }

    private async Task AcceptLoopAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                return;
            }

            _ = ServeAsync(client, cancellationToken);
        }
    }

    private async Task ServeAsync(Socket socket, CancellationToken cancellationToken)
    {
        socket.NoDelay = true;
        var input = new InputBuffer(socket);
        try
        {
            while (true)
            {
                int headEnd;
                while ((headEnd = input.Data.IndexOf("\r\n\r\n"u8)) < 0)
                {
                    if (!await input.ReceiveMoreAsync(cancellationToken).ConfigureAwait(false))
                    {
                        return;
                    }
                }

                var bodyStart = headEnd + 4;
                var total = bodyStart + ContentLength(input.Data[..headEnd]);
                while (input.Length < total)
                {
                    if (!await input.ReceiveMoreAsync(cancellationToken).ConfigureAwait(false))
                    {
                        return;
                    }
                }

                var (isChat, id) = Describe(input.Data[..headEnd], input.Data[bodyStart..total]);
                input.Consume(total);
                if (isChat)
                {
                    await StreamAsync(socket, id, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await SendAllAsync(socket, NotFound, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The gateway closed the connection (or we are stopping).
        }
        finally
        {
            input.Dispose();
            socket.Dispose();
        }
    }

    private static (bool IsChat, int Id) Describe(ReadOnlySpan<byte> head, ReadOnlySpan<byte> body)
    {
        var requestLine = head[..Math.Max(0, head.IndexOf((byte)'\r'))];
        if (requestLine.IsEmpty)
        {
            requestLine = head;
        }

        return (requestLine.StartsWith("POST "u8) && requestLine.IndexOf("/chat/completions"u8) >= 0, StreamId(body));
    }

    private async Task StreamAsync(Socket socket, int id, CancellationToken cancellationToken)
    {
        var plan = _plan;
        var script = plan.Script;
        var record = id >= 0 && id < plan.Streams;
        var slot = record ? (long)id * script.Count : 0;
        if (record)
        {
            plan.RequestAt[id] = Stopwatch.GetTimestamp();
        }

        Interlocked.Increment(ref _streamsStarted);
        await SendAllAsync(socket, script.Head, cancellationToken).ConfigureAwait(false);
        using (var timer = new PeriodicTimer(plan.Delay))
        {
            for (var i = 0; i < script.Count; i++)
            {
                await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false);
                if (record)
                {
                    plan.SentAt[slot + i] = Stopwatch.GetTimestamp();
                }

                await SendAllAsync(socket, script.TokenChunks[i], cancellationToken).ConfigureAwait(false);
            }
        }

        await SendAllAsync(socket, script.Tail, cancellationToken).ConfigureAwait(false);
        Interlocked.Increment(ref _streamsCompleted);
    }
}
