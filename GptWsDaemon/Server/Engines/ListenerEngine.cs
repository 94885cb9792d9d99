using System.Net;
using NLog;

namespace GptWsDaemon.Server.Engines;

/// <summary>
/// The managed <see cref="HttpListener"/> engine (the default, as the original service's design asks). It cannot be
/// hardened from outside: it has no request-head timeout for sockets that sent a byte, grows the request line without
/// bound and accepts until the process runs out of descriptors — README "Exposing the daemon" says when to use Kestrel.
/// </summary>
public sealed class ListenerEngine : IServerEngine
{
    private static readonly Logger Log = LogManager.GetCurrentClassLogger();
    private readonly HttpListener _listener = new();
    private Task _acceptLoops = Task.CompletedTask;

    /// <summary>Creates the engine for <paramref name="host"/>:<paramref name="port"/>; <see cref="StartAsync"/> binds it.</summary>
    public ListenerEngine(string host, int port)
    {
        var prefixes = Prefixes(host, port).ToList();
        Url = prefixes[0];
        foreach (var prefix in prefixes)
        {
            _listener.Prefixes.Add(prefix);
        }

        _listener.IgnoreWriteExceptions = true;
    }

    /// <inheritdoc/>
    public string Url { get; }

    /// <inheritdoc/>
    public Task StartAsync(Func<IHttpExchange, Task> handler)
    {
        try
        {
            _listener.Start();
        }
        catch (HttpListenerException e)
        {
            throw new EngineBindException(e.Message, e);
        }

        var loops = new List<Task>();
        for (var i = 0; i < Math.Max(2, Environment.ProcessorCount); i++)
        {
            loops.Add(AcceptLoopAsync(handler));
        }

        _acceptLoops = Task.WhenAll(loops);
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public async Task StopAsync()
    {
        if (!_listener.IsListening)
        {
            return;
        }

        _listener.Close();
        try
        {
            await _acceptLoops.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Log.Warn("accept loops did not stop in time");
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    /// <summary>
    /// HttpListener matches a request's Host header against its prefixes, so loopback is bound under both of its names;
    /// "+" (any address) matches every Host.
    /// </summary>
    private static IEnumerable<string> Prefixes(string host, int port)
    {
        var h = host switch
        {
            "0.0.0.0" or "::" or "[::]" or "*" or "+" => "+",
            _ when host.Contains(':', StringComparison.Ordinal) && !host.StartsWith('[') => $"[{host}]",
            _ => host,
        };
        yield return $"http://{h}:{port}/";
        if (h is "127.0.0.1" or "localhost")
        {
            yield return $"http://{(h == "localhost" ? "127.0.0.1" : "localhost")}:{port}/";
        }
    }

    private async Task AcceptLoopAsync(Func<IHttpExchange, Task> handler)
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                if (!_listener.IsListening)
                {
                    return;
                }

                Log.Warn("accept failed: {0}", e.Message);
                continue;
            }

            // The handler owns its task (the server tracks it); the loop goes straight back to accepting.
            _ = handler(new ListenerExchange(context));
        }
    }
}
