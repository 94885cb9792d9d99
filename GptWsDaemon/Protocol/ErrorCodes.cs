namespace GptWsDaemon.Protocol;

/// <summary>The <c>code</c> values of reply frames (protocol.md §6).</summary>
public static class ErrorCodes
{
    /// <summary>Success.</summary>
    public const int Ok = 0;

    /// <summary>Frame is not valid JSON / not an object / binary frame.</summary>
    public const int BadFrame = 1001;

    /// <summary><c>seq</c> missing or empty.</summary>
    public const int MissingSeq = 1002;

    /// <summary>Neither query nor messages (or malformed messages).</summary>
    public const int MissingPrompt = 1003;

    /// <summary>A parameter of wrong type or out of range.</summary>
    public const int BadParameter = 1004;

    /// <summary><c>seq</c> already streaming on this connection.</summary>
    public const int DuplicateSeq = 1005;

    /// <summary>Too many streams on this connection, or the daemon is at capacity.</summary>
    public const int AtCapacity = 1006;

    /// <summary>Frame larger than limits.max_message_bytes.</summary>
    public const int FrameTooLarge = 1007;

    /// <summary>A resume names a stream that is not (or no longer) kept, or whose frames after <c>after</c> are gone (protocol.md §4.5).</summary>
    public const int StreamNotFound = 1008;

    /// <summary>A quota of the client is spent (protocol.md §2.3 "Quotas"); the error frame has <c>data.retry_after</c>.</summary>
    public const int QuotaExceeded = 1009;

    /// <summary>Upstream refused the key (401/403).</summary>
    public const int UpstreamAuth = 2001;

    /// <summary>Upstream rate limit (429) after retries.</summary>
    public const int UpstreamRateLimit = 2002;

    /// <summary>Upstream error (other 4xx / 5xx).</summary>
    public const int UpstreamError = 2003;

    /// <summary>Upstream timeout (connect, first byte, or idle between events).</summary>
    public const int UpstreamTimeout = 2004;

    /// <summary>Upstream stream broke mid-way.</summary>
    public const int UpstreamBroken = 2005;

    /// <summary>Internal error.</summary>
    public const int Internal = 5000;
}
