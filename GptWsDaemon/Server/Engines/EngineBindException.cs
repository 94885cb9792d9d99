namespace GptWsDaemon.Server.Engines;

/// <summary>The engine could not bind its address (in use, not permitted, not a local address).</summary>
public sealed class EngineBindException : Exception
{
    /// <summary>Creates the exception.</summary>
    public EngineBindException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }

    /// <summary>Creates the exception.</summary>
    public EngineBindException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public EngineBindException(string message)
        : base(message)
    {
    }
}
