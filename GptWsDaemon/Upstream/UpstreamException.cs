namespace GptWsDaemon.Upstream;

/// <summary>An upstream failure with the protocol.md §6 code (2001–2005) and a message safe to show the client.</summary>
public sealed class UpstreamException : Exception
{
    /// <summary>Creates the exception.</summary>
    public UpstreamException(int code, string message, Exception? inner = null, string? upstreamCode = null)
        : base(message, inner)
    {
        Code = code;
        UpstreamCode = upstreamCode;
    }

    /// <summary>Creates the exception.</summary>
    public UpstreamException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public UpstreamException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public UpstreamException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The protocol.md §6 error code.</summary>
    public int Code { get; }

    /// <summary>The upstream's own error code or type (e.g. <c>invalid_api_key</c>), sanitized; null when it sent none.</summary>
    public string? UpstreamCode { get; }
}
