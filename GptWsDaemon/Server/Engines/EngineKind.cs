namespace GptWsDaemon.Server.Engines;

/// <summary>Which HTTP front end accepts sockets (<c>server.engine</c>, <c>--engine</c>, <c>GPTWS_ENGINE</c>).</summary>
public enum EngineKind
{
    /// <summary>The runtime's managed <see cref="System.Net.HttpListener"/>: the default; not hardened against hostile sockets.</summary>
    HttpListener,

    /// <summary>ASP.NET Core's Kestrel with head timeouts, size caps and an accept gate: for exposed ports.</summary>
    Kestrel,
}
