using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Reflection;
using NLog;

namespace GptWsDaemon.Server;

/// <summary>
/// Works around three costs of the managed (Linux/macOS) <see cref="HttpListener"/>, each reached through an internal
/// member; if a future runtime renames one, we log once (or fall back silently) and carry on with the default.
/// <para>
/// Nagle: <see cref="TrySetNoDelay"/> turns Nagle's algorithm off on an accepted connection.
/// HttpListener exposes no TCP_NODELAY setting; without it, a frame sent while the previous one is unacknowledged waits
/// for the client's delayed ACK (up to 40 ms): the p99 gap between tokens (bench/RESULTS.md).
/// The socket is reached through the listener's internal connection object.
/// </para>
/// <para>
/// WebSocket data path: the WebSocket HttpListener hands out wraps the runtime's own one only to close the HTTP context
/// on Dispose, and does not pass the Memory-based receive and send through: each of its receives goes through the
/// ArraySegment path, allocating a Task, a result object and a state machine that stay alive for as long as the
/// connection waits for its next message. <see cref="DataPath"/> returns the
/// inner WebSocket for receiving and sending, whose Memory-based calls allocate nothing; closing, aborting and
/// disposing stay on the wrapper.
/// </para>
/// <para>
/// Memory: the listener's connection keeps the 8 KiB buffer it read the HTTP request into for as long as the socket is
/// open, though a connection upgraded to a WebSocket never reads another request through it: 40 % of an idle
/// connection's managed heap (bench/RESULTS.md). <see cref="ReleaseRequestBuffer"/> drops it after the upgrade; the
/// listener allocates a new one itself should it ever read a request on that connection again.
/// </para>
/// </summary>
internal static class ListenerSocketTuning
{
    private static readonly Logger Log = LogManager.GetCurrentClassLogger();
    private static readonly PropertyInfo? ConnectionProperty =
        typeof(HttpListenerContext).GetProperty("Connection", BindingFlags.Instance | BindingFlags.NonPublic);

    private static readonly FieldInfo? SocketField =
        ConnectionProperty?.PropertyType.GetField("_socket", BindingFlags.Instance | BindingFlags.NonPublic);

    private static readonly FieldInfo? RequestBufferField =
        ConnectionProperty?.PropertyType.GetField("_buffer", BindingFlags.Instance | BindingFlags.NonPublic) is { FieldType: var type } field && type == typeof(byte[])
            ? field
            : null;

    private static int _warned;

    /// <summary>The WebSocket to receive and send on: the one <paramref name="accepted"/> wraps, or itself.</summary>
    public static WebSocket DataPath(WebSocket accepted)
    {
        try
        {
            return accepted.GetType().GetField("_inner", BindingFlags.Instance | BindingFlags.NonPublic)?.GetValue(accepted) as WebSocket ?? accepted;
        }
        catch (Exception e) when (e is TargetException or MemberAccessException or ArgumentException)
        {
            return accepted;
        }
    }

    /// <summary>Sets TCP_NODELAY on the context's socket; false when the socket could not be reached.</summary>
    public static bool TrySetNoDelay(HttpListenerContext context)
    {
        try
        {
            if (SocketField?.GetValue(ConnectionProperty!.GetValue(context)) is Socket socket)
            {
                socket.NoDelay = true;
                return true;
            }
        }
        catch (Exception e) when (e is TargetException or MemberAccessException or SocketException or ObjectDisposedException)
        {
            // Fall through to the one-time notice.
        }

        if (Interlocked.Exchange(ref _warned, 1) == 0)
        {
            Log.Info("could not set TCP_NODELAY on HttpListener connections; small frames may wait for delayed ACKs");
        }

        return false;
    }

    /// <summary>Lets the request buffer of the context's connection go, once it is a WebSocket; false when it could not be reached.</summary>
    public static bool ReleaseRequestBuffer(HttpListenerContext context)
    {
        try
        {
            if (RequestBufferField is not null && ConnectionProperty!.GetValue(context) is { } connection && RequestBufferField.GetValue(connection) is byte[])
            {
                RequestBufferField.SetValue(connection, null);
                return true;
            }
        }
        catch (Exception e) when (e is TargetException or MemberAccessException or ArgumentException)
        {
            // The buffer stays: 8 KiB more per connection, nothing else.
        }

        return false;
    }
}
