using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace GptWsDaemon.Tests.Support;

/// <summary>
/// An OpenAI stand-in on a real loopback socket that, once a request is in, writes SSE content as fast as its socket
/// takes it, like a model generating a long answer, and records how it learns that the connection ended: its write
/// failing ("reset"), or a FIN ("fin": a read returned 0 with the socket in CLOSE_WAIT, or writes still went through
/// after it, the peer draining instead of resetting). A peer that only shuts its side down and stops reading leaves this writer blocked against a
/// zero window, still "generating": <see cref="Ended"/> then never completes. (A read returning 0 alone proves no FIN:
/// Linux reports a reset once, to the writer, and end-of-file to the reader after it.) Writer and watcher run on threads
/// of their own with blocking calls, so that a busy thread pool (the daemon relaying the flood in this process) cannot
/// delay what they see.
/// </summary>
public sealed class FloodingUpstream : IDisposable
{
    private static readonly byte[] Head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"u8.ToArray();

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly TaskCompletionSource _requested = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<(long At, string How)> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Thread _writer;
    private Socket? _socket;
    private long _bytesSent;
    private const int CloseWait = 8; // TCP_CLOSE_WAIT in Linux's tcp_states.h: a FIN received, the socket still open
    private long _endOfFileAt; // Stopwatch timestamp of the watcher's read returning 0, or 0

    public FloodingUpstream()
    {
        _listener.Start();
        _writer = new Thread(Serve) { IsBackground = true, Name = "flooding upstream" };
        _writer.Start();
    }

    public string BaseUrl => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/v1";

    /// <summary>Completes when the request has arrived and content is flowing.</summary>
    public Task Requested => _requested.Task;

    /// <summary>Completes with the Stopwatch timestamp of the end and how it was seen: "reset" or "fin"; never when the writer stays blocked.</summary>
    public Task<(long At, string How)> Ended => _ended.Task;

    public long BytesSent => Interlocked.Read(ref _bytesSent);

    public void Dispose()
    {
        _listener.Stop();
        _socket?.Dispose();
        _writer.Join(TimeSpan.FromSeconds(2));
    }

    private void Serve()
    {
        try
        {
            using var socket = _listener.AcceptSocket();
            _socket = socket;
            using var stream = new NetworkStream(socket, ownsSocket: false);
            FakeOpenAiServer.ReadRequestAsync(stream).GetAwaiter().GetResult(); // a thread of its own: blocking is the point
            socket.Send(Head);
            new Thread(() => WatchReads(socket)) { IsBackground = true, Name = "flooding upstream reads" }.Start();
            _requested.TrySetResult();
            // Long deltas: the daemon's work per byte stays small, so that what is measured is the reset, not a busy relay.
            var chunk = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 8).Select(i =>
                "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" + new string((char)('a' + i), 2000) + " \"},\"finish_reason\":null}]}\n\n")));
            while (!_ended.Task.IsCompleted)
            {
                socket.Send(chunk);
                Interlocked.Add(ref _bytesSent, chunk.Length);
                if (Interlocked.Read(ref _endOfFileAt) is var eof and not 0)
                {
                    _ended.TrySetResult((eof, "fin")); // a write after the end of file: that end was a FIN
                }
            }
        }
        catch (SocketException e)
        {
            // ECONNRESET, or EPIPE once the reset arrived before this write: either way the peer reset the connection.
            _ended.TrySetResult((Stopwatch.GetTimestamp(), e.SocketErrorCode is SocketError.ConnectionReset or SocketError.Shutdown ? "reset" : "write failed: " + e.SocketErrorCode));
        }
        catch (Exception e) when (e is ObjectDisposedException or IOException or InvalidDataException or InvalidOperationException)
        {
            // The test is over.
        }
    }

    /// <summary>tcpi_state of Linux's TCP_INFO (level IPPROTO_TCP, option 11), or -1 where there is none.</summary>
    private static int TcpState(Socket socket)
    {
        if (!OperatingSystem.IsLinux())
        {
            return -1;
        }

        Span<byte> info = stackalloc byte[104];
        try
        {
            return socket.GetRawSocketOption(6, 11, info) > 0 ? info[0] : -1;
        }
        catch (SocketException)
        {
            return -1;
        }
    }

    private void WatchReads(Socket socket)
    {
        var buffer = new byte[256];
        try
        {
            while (socket.Receive(buffer) > 0)
            {
            }

            var at = Stopwatch.GetTimestamp();
            if (TcpState(socket) == CloseWait)
            {
                _ended.TrySetResult((at, "fin")); // the kernel took a FIN, and no reset yet
            }

            Interlocked.Exchange(ref _endOfFileAt, at); // a FIN, or the reset the writer took

        }
        catch (SocketException)
        {
            _ended.TrySetResult((Stopwatch.GetTimestamp(), "reset"));
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
