using GptWsDaemon.Protocol;

namespace GptWsDaemon.Server;

/// <summary>
/// A stream as one connection sees it, under one of its seqs: a <see cref="StreamSession"/> the connection runs, or
/// a subscription to a resumable stream that outlives it (protocol.md §4.5).
/// </summary>
public interface IStreamSlot
{
    /// <summary>The seq the connection reads it under.</summary>
    RequestSeq Seq { get; }

    /// <summary>Completes when the connection has nothing more to wait for from it.</summary>
    Task Completion { get; }

    /// <summary>True when it holds a daemon-wide stream slot that <see cref="ConnectionStreams.Release"/> gives back.</summary>
    bool HoldsDaemonSlot { get; }

    /// <summary>Ends it for this connection: cancels a session; a subscription is detached when the connection is lost.</summary>
    void Cancel(StreamEndReason reason);

    /// <summary>True the first time: its seq and slots are given back once.</summary>
    bool TryMarkReleased();
}
