using System.Net.Sockets;
using System.Reflection;
using NLog;

namespace GptWsDaemon.Upstream;

/// <summary>
/// Waits for the next upstream bytes on the socket under a plain-HTTP/1.1 <see cref="SocketsHttpHandler"/> response body.
/// <para>
/// Why: when a response-body read of SocketsHttpHandler has to wait, its async read method suspends and allocates a
/// state machine — one object per token, the largest share of the daemon's allocations under load (bench/RESULTS.md).
/// Waiting on the socket ourselves (a zero-byte receive, whose awaitable the socket reuses) and
/// reading only once bytes are there lets that read complete without suspending.
/// </para>
/// <para>
/// Safe only while the body is still open and HttpClient holds no unread bytes: the reader asks only after a read that
/// returned less than it asked for (SocketsHttpHandler copies all it has buffered into such a read), and this class
/// declines once the body is complete — the connection may then be back in the pool, serving another request. Reached
/// through two internal fields (the body stream's connection, the connection's transport stream); over TLS, HTTP/2, or
/// on a runtime that renamed them, <see cref="TryAttach"/> returns null and reads go through the stream as before.
/// </para>
/// </summary>
internal sealed class PlainHttpArrival : IByteArrival
{
    private static readonly Logger Log = LogManager.GetCurrentClassLogger();
    private static readonly Type? ConnectionType = typeof(SocketsHttpHandler).Assembly.GetType("System.Net.Http.HttpConnection");
    private static readonly FieldInfo? TransportField = ConnectionType?.GetField("_stream", BindingFlags.Instance | BindingFlags.NonPublic);
    private static readonly Type? BodyStreamType = typeof(SocketsHttpHandler).Assembly.GetType("System.Net.Http.HttpConnection+HttpContentReadStream");
    private static readonly FieldInfo? ConnectionField = FindConnectionField();
    private static int _warned;

    private readonly Stream _body;
    private readonly object _connection;
    private readonly Socket _socket;

    private PlainHttpArrival(Stream body, object connection, Socket socket)
    {
        _body = body;
        _connection = connection;
        _socket = socket;
    }

    /// <summary>The arrival wait for this response body, or null when it is not a plain-HTTP/1.1 body of SocketsHttpHandler.</summary>
    public static PlainHttpArrival? TryAttach(Stream body)
    {
        if (ConnectionField is null || TransportField is null)
        {
            WarnOnce();
            return null;
        }

        if (!BodyStreamType!.IsInstanceOfType(body))
        {
            return null; // HTTP/2, or not SocketsHttpHandler's
        }

        try
        {
            // Over TLS the transport is an SslStream, which may hold decrypted bytes of its own: no shortcut there.
            return ConnectionField.GetValue(body) is { } connection && TransportField.GetValue(connection) is NetworkStream { Socket: var socket }
                ? new PlainHttpArrival(body, connection, socket)
                : null;
        }
        catch (Exception e) when (e is TargetException or MemberAccessException or ArgumentException)
        {
            WarnOnce();
            return null;
        }
    }

    /// <inheritdoc/>
    public bool TryWaitForBytes(CancellationToken cancellationToken, out ValueTask<int> wait)
    {
        if (!BodyOpen())
        {
            wait = default;
            return false;
        }

        try
        {
            wait = _socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, cancellationToken);
            return true;
        }
        catch (ObjectDisposedException)
        {
            wait = default;
            return false;
        }
    }

    /// <inheritdoc/>
    public void Abandon()
    {
        // Only while the body still holds the connection: once complete, the pool may have handed it to another request.
        // A reset, not a shutdown: a FIN tells an upstream that only writes nothing. HttpClient, which owns the socket,
        // then finds it closed and drops the connection instead of keeping it for reuse.
        if (!BodyOpen())
        {
            return;
        }

        try
        {
            _socket.LingerState = new LingerOption(true, 0);
            _socket.Close();
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already gone.
        }
    }

    /// <summary>The body stream drops its connection when the body is complete; from then on the socket is not ours.</summary>
    private bool BodyOpen() => ReferenceEquals(ConnectionField!.GetValue(_body), _connection);

    private static FieldInfo? FindConnectionField()
    {
        for (var type = BodyStreamType; type is not null; type = type.BaseType)
        {
            if (type.GetField("_connection", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.DeclaredOnly) is { } field
                && ConnectionType is not null && field.FieldType.IsAssignableFrom(ConnectionType))
            {
                return field;
            }
        }

        return null;
    }

    private static void WarnOnce()
    {
        if (Interlocked.Exchange(ref _warned, 1) == 0)
        {
            Log.Info("HttpClient internals not as expected; upstream body reads go through the stream (one more allocation per token)");
        }
    }
}
