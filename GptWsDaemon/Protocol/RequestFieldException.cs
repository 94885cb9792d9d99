namespace GptWsDaemon.Protocol;

/// <summary>A request field that fails its check: the error code (1003 or 1004) and a message naming the field.</summary>
internal sealed class RequestFieldException(int code, string message) : Exception(message)
{
    /// <summary>The protocol.md §6 error code.</summary>
    public int Code { get; } = code;
}
