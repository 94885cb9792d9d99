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
    private readonly List<string> _prefixes;
    private HttpListener _listener;
    private Task _acceptLoops = Task.CompletedTask;

    /// <summary>Creates the engine for <paramref name="host"/>:<paramref name="port"/>; <see cref="StartAsync"/> binds it.</summary>
    public ListenerEngine(string host, int port)
    {
        _prefixes = Prefixes(host, port).ToList();
        Url = _prefixes[0];
        _listener = Create(_prefixes);
    }

    /// <inheritdoc/>
    public string Url { get; }

    /// <inheritdoc/>
    public async Task StartAsync(Func<IHttpExchange, Task> handler)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                _listener.Start();
                break;
            }
            catch (HttpListenerException e)
            {
                throw new EngineBindException(e.Message, e);
            }
            catch (ArgumentNullException e) when (attempt < 5)
            {
                // HttpListener's endpoint accepts in its constructor, before the lock it takes exists: a client already
                // waiting in the backlog when it starts (a balancer's health check at a restart) throws there. Its
                // bound socket is only released by its finalizer, so a fresh listener can bind once that has run.
                Log.Warn("HttpListener failed to start with a connection already waiting ({0}); retrying ({1}/4)", e.Message, attempt);
                _listener.Abort();
                GC.Collect();
                GC.WaitForPendingFinalizers();
                await Task.Delay(50 * attempt).ConfigureAwait(false);
                _listener = Create(_prefixes);
            }
        }

        var loops = new List<Task>();
        for (var i = 0; i < Math.Max(2, Environment.ProcessorCount); i++)
        {
            loops.Add(AcceptLoopAsync(handler));
        }

        _acceptLoops = Task.WhenAll(loops);
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

    private static HttpListener Create(List<string> prefixes)
    {
        var listener = new HttpListener { IgnoreWriteExceptions = true };
        foreach (var prefix in prefixes)
        {
            listener.Prefixes.Add(prefix);
        }

        return listener;
    }

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
