using GptWsDaemon.Protocol;
using GptWsDaemon.Server;

namespace GptWsDaemon.Streams;

/// <summary>The connection a <see cref="StreamSubscription"/> delivers to (a <see cref="ClientConnection"/>, or a test's recorder).</summary>
public interface IStreamReader
{
    /// <summary>The connection's id, for log lines.</summary>
    long Id { get; }

    /// <summary>Queues a live frame (a full queue drops a slow reader).</summary>
    void Send(OutgoingFrame frame);

    /// <summary>Queues a replayed frame: replays are bounded by the log, not by the send queue.</summary>
    void SendReplay(OutgoingFrame frame);

    /// <summary>Gives the stream's seq and slot back (before its final frame goes out).</summary>
    void Release(IStreamSlot stream);

    /// <summary>The connection has nothing more to wait for from the stream.</summary>
    void Ended(IStreamSlot stream);
}
