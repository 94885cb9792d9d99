using System.Net.Sockets;

namespace GptWsDaemon.Upstream;

/// <summary>
/// Opens the upstream's TCP connections for <see cref="SocketsHttpHandler"/> with SO_LINGER on at 0 s, so that closing
/// one is a reset, never a FIN. An upstream writing a long answer with its send buffer full against our zero window
/// learns from a FIN nothing (it never reads): only a reset fails its next write and stops a paid generation. A
/// connection closes before its response is complete only when the daemon abandons it (cancel, disconnect, a dropped
/// slow reader, a timeout, shutdown); the other closes (idle, lifetime, <c>Connection: close</c>) come after a
/// complete response, where a reset loses nothing.
/// </summary>
internal static class UpstreamSockets
{
    /// <summary>A <see cref="SocketsHttpHandler.ConnectCallback"/>: what the handler does by default, plus the linger option.</summary>
    public static async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        // Dual mode where the OS has IPv6, as the handler's own; the DnsEndPoint tries every address DNS gives.
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, LingerState = new LingerOption(true, 0) };
        try
        {
            // The token carries ConnectTimeout and the request's own cancellation.
            await socket.ConnectAsync(context.DnsEndPoint, cancellationToken).ConfigureAwait(false);
            return new ResettingNetworkStream(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A NetworkStream that closes its socket without the shutdown an owning NetworkStream does first: that shutdown is a
    /// FIN, sent before the linger option turns the close into a reset. Still a NetworkStream, as
    /// <see cref="PlainHttpArrival"/> expects.
    /// </summary>
    private sealed class ResettingNetworkStream(Socket socket) : NetworkStream(socket, ownsSocket: false)
    {
        protected override void Dispose(bool disposing)
        {
            base.Dispose(disposing);
            if (disposing)
            {
                Socket.Dispose();
            }
        }
    }
}
