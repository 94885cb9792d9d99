using System.Net;
using System.Net.Sockets;
using System.Reflection;
using NLog;

namespace GptWsDaemon.Server;

/// <summary>
/// Turns Nagle's algorithm off on a connection accepted by the managed (Linux/macOS) <see cref="HttpListener"/>.
/// HttpListener exposes no TCP_NODELAY setting; without it, a frame sent while the previous one is unacknowledged waits
/// for the client's delayed ACK (up to 40 ms) — measured by bench/ as a 33 ms p99 gap between tokens of one stream.
/// The socket is reached through the listener's internal connection object, and if a future runtime renames it we log
/// once and carry on with the default.
/// </summary>
internal static class ListenerSocketTuning
{
    private static readonly Logger Log = LogManager.GetCurrentClassLogger();
    private static readonly PropertyInfo? ConnectionProperty =
        typeof(HttpListenerContext).GetProperty("Connection", BindingFlags.Instance | BindingFlags.NonPublic);

    private static readonly FieldInfo? SocketField =
        ConnectionProperty?.PropertyType.GetField("_socket", BindingFlags.Instance | BindingFlags.NonPublic);

    private static int _warned;

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
}
