using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace GptWsDaemon.Tests.Support;

/// <summary>
/// A loopback TCP forwarder in front of a daemon that a test can cut: <see cref="CutAll"/> resets every connection
/// through it at once (both sides see a RST), as a phone entering a tunnel would; new connections pass again.
/// </summary>
public sealed class TcpCutter : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _target;
    private readonly ConcurrentDictionary<(TcpClient Client, TcpClient Daemon), byte> _pairs = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accept;

    public TcpCutter(int targetPort)
    {
        _target = targetPort;
        _listener.Start();
        _accept = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public Uri HttpUri => new($"http://127.0.0.1:{Port}/");

    /// <summary>Connections cut so far.</summary>
    public int Cuts { get; private set; }

    /// <summary>Resets every open connection (linger 0: a RST, not a FIN).</summary>
    public void CutAll()
    {
        foreach (var pair in _pairs.Keys)
        {
            Reset(pair.Client);
            Reset(pair.Daemon);
            _pairs.TryRemove(pair, out _);
            Cuts++;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        CutAll();
        try
        {
            await _accept;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    private static void Reset(TcpClient socket)
    {
        try
        {
            socket.Client.LingerState = new LingerOption(true, 0);
            socket.Close();
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptTcpClientAsync(_stop.Token);
            var daemon = new TcpClient();
            await daemon.ConnectAsync(IPAddress.Loopback, _target, _stop.Token);
            var pair = (client, daemon);
            _pairs[pair] = 0;
            _ = PumpAsync(client, daemon, pair);
            _ = PumpAsync(daemon, client, pair);
        }
    }

    private async Task PumpAsync(TcpClient from, TcpClient to, (TcpClient, TcpClient) pair)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            var input = from.GetStream();
            var output = to.GetStream();
            int n;
            while ((n = await input.ReadAsync(buffer, _stop.Token)) > 0)
            {
                await output.WriteAsync(buffer.AsMemory(0, n), _stop.Token);
            }

            to.Client.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
            // Cut, or closed by one side.
        }
        finally
        {
            if (!from.Connected || !to.Connected)
            {
                _pairs.TryRemove(pair, out _);
            }
        }
    }
}
