namespace GptWsDaemon.Upstream;

/// <summary>
/// An event that was an error object (<c>data: {"error":…}</c>) rather than a chunk. Carries the body unsanitized, so
/// that only <see cref="UpstreamFailures"/> decides what of it a client or a log sees.
/// </summary>
public sealed class ReportedErrorException : Exception
{
    /// <summary>Creates the exception for <paramref name="body"/>.</summary>
    public ReportedErrorException(UpstreamErrorBody body)
        : base("upstream sent an error object") => Body = body;

    /// <summary>Creates the exception.</summary>
    public ReportedErrorException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public ReportedErrorException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public ReportedErrorException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>What the upstream said.</summary>
    public UpstreamErrorBody Body { get; }
}
