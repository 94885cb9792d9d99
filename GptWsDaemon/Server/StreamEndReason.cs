namespace GptWsDaemon.Server;

/// <summary>Why a stream was cancelled before its upstream finished.</summary>
public enum StreamEndReason
{
    /// <summary>Not cancelled.</summary>
    None,

    /// <summary>The client sent <c>{"action":"cancel"}</c>: final frame <c>cancelled</c>.</summary>
    ClientCancel,

    /// <summary>The daemon is shutting down and the grace period ran out: final frame <c>cancelled</c>.</summary>
    Shutdown,

    /// <summary>A resumable stream was not resumed within resume.hold_seconds: final frame <c>cancelled</c> into its log (protocol.md §4.5).</summary>
    HoldExpired,

    /// <summary>The client is gone (or dropped as a slow reader): no frame can reach it.</summary>
    ConnectionLost,
}
