namespace GptWsDaemon.Server.Engines;

/// <summary>
/// Accepts sockets and turns each request into an <see cref="IHttpExchange"/> for <see cref="HttpFront"/>. Two engines:
/// <see cref="ListenerEngine"/> (HttpListener, the default) and <see cref="KestrelEngine"/> (hardened).
/// </summary>
public interface IServerEngine : IAsyncDisposable
{
    /// <summary>The URL the engine is bound to.</summary>
    string Url { get; }

    /// <summary>Binds and starts accepting; every request goes to <paramref name="handler"/>, which never throws.</summary>
    /// <exception cref="EngineBindException">The address cannot be bound.</exception>
    Task StartAsync(Func<IHttpExchange, Task> handler);

    /// <summary>Stops accepting and closes the listening socket; requests still running are not waited for.</summary>
    Task StopAsync();
}
