using System.Net;
using System.Net.Sockets;

namespace GptWsBench.Gateways;

/// <summary>
/// The calibration path: a bare TCP relay that copies bytes between each client connection and its own connection to
/// the upstream. Per token it does what any relay must — one read from the upstream socket, one write to the client
/// socket — and nothing else: no HTTP, no JSON, no WebSocket, no allocation. Run as its own process on the same
/// runtime and socket engine settings as the daemon (inline completions, TCP_NODELAY), its CPU per token is the floor
/// of "one upstream read and one client write per token" on this machine, next to which the daemon's figure is read.
/// </summary>
public static class TcpRelay
{
    private const int BufferSize = 16 * 1024;

    /// <summary>Accepts on 127.0.0.1:<paramref name="port"/> and relays every connection to <paramref name="target"/> until cancelled.</summary>
    public static async Task RunAsync(int port, IPEndPoint target, CancellationToken cancellationToken)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
        listener.Listen(4096);
        await Console.Out.WriteLineAsync($"relay: 127.0.0.1:{port} → {target}").ConfigureAwait(false);
        try
        {
            while (true)
            {
                var client = await listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
                _ = RelayAsync(client, target, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private static async Task RelayAsync(Socket client, IPEndPoint target, CancellationToken cancellationToken)
    {
        using (client)
        using (var upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            try
            {
                client.NoDelay = true;
                upstream.NoDelay = true;
                await upstream.ConnectAsync(target, cancellationToken).ConfigureAwait(false);
                var up = PumpAsync(client, upstream, cancellationToken);
                var down = PumpAsync(upstream, client, cancellationToken);
                if (await Task.WhenAny(up, down).ConfigureAwait(false) is { IsFaulted: true } or { IsCanceled: true })
                {
                    // One side broke: closing both ends the other pump too.
                    client.Dispose();
                    upstream.Dispose();
                }

                await Task.WhenAll(up, down).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // One side went away: closing both (the usings) is all a relay does about it.
            }
        }
    }

    /// <summary>Copies <paramref name="from"/> to <paramref name="to"/> until <paramref name="from"/> ends, then passes the end on.</summary>
    private static async Task PumpAsync(Socket from, Socket to, CancellationToken cancellationToken)
    {
        var buffer = new byte[BufferSize];
        while (true)
        {
            var read = await from.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                to.Shutdown(SocketShutdown.Send);
                return;
            }

            for (var sent = 0; sent < read;)
            {
                sent += await to.SendAsync(buffer.AsMemory(sent, read - sent), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
