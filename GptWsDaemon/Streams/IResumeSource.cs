using GptWsDaemon.Server;

namespace GptWsDaemon.Streams;

/// <summary>Where a <see cref="StreamSubscription"/>'s frames come from: the stream itself, or a tail of its log in Redis.</summary>
public interface IResumeSource
{
    /// <summary>The reader left (its connection is gone): the stream goes on, held for resume.hold_seconds.</summary>
    void Detach(StreamSubscription subscription);

    /// <summary>The reader cancelled the stream (or the daemon is stopping): its upstream request is aborted.</summary>
    void Cancel(StreamEndReason reason);
}
