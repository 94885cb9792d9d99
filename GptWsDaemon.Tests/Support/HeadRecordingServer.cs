using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace GptWsDaemon.Tests.Support;

/// <summary>
/// A stand-in upstream on a loopback port: reads each request head, remembers it, answers <c>200 ok</c> and closes.
/// For checking what nginx sends upstream (the daemon itself does not echo headers).
/// </summary>
internal sealed class HeadRecordingServer : IAsyncDisposable
{
    private const int MaxHead = 64 * 1024;
    private static readonly byte[] Answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"u8.ToArray();
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<string> _heads = new();
    private readonly Task _accepting;

    public HeadRecordingServer()
    {
        _listener.Start();
        _accepting = AcceptAsync(_stop.Token);
    }

    /// <summary>The port it listens on.</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>The request heads received so far, oldest first.</summary>
    public IReadOnlyList<string> Heads => [.. _heads];

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _accepting;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped.
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync(CancellationToken ct)
    {
        var connections = new List<Task>();
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var client = await _listener.AcceptTcpClientAsync(ct);
                connections.Add(ServeAsync(client, ct));
            }
        }
        finally
        {
            await Task.WhenAll(connections);
        }
    }

    private async Task ServeAsync(TcpClient client, CancellationToken ct)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var head = new MemoryStream();
                var buffer = new byte[4096];
                while (head.Length < MaxHead)
                {
                    var n = await stream.ReadAsync(buffer, ct);
                    if (n == 0)
                    {
                        return;
                    }

                    head.Write(buffer, 0, n);
                    var text = Encoding.Latin1.GetString(head.GetBuffer(), 0, (int)head.Length);
                    if (text.Contains("\r\n\r\n", StringComparison.Ordinal))
                    {
                        _heads.Enqueue(text[..text.IndexOf("\r\n\r\n", StringComparison.Ordinal)]);
                        await stream.WriteAsync(Answer, ct);
                        return;
                    }
                }
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
            {
                // The peer went away, or we are stopping.
            }
        }
    }
}
