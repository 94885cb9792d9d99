using GptWsDaemon.Protocol;

namespace GptWsDaemon.Server;

/// <summary>
/// What a <see cref="StreamSession"/> writes to and reports to: its connection today, and the seam on which a stream
/// will outlive its connection (a log that connections subscribe to). A session knows nothing more of who reads it,
/// which also lets a test drive one without a socket.
/// </summary>
public interface IStreamHost
{
    /// <summary>The connection's id, for log lines.</summary>
    long Id { get; }

    /// <summary>Queues a frame for the reader.</summary>
    void Send(OutgoingFrame frame);

    /// <summary>Gives the session's seq and slots back, once; called just before its final frame.</summary>
    void Release(StreamSession session);

    /// <summary>The session ended (its final frame sent, or its reader gone); called once, last.</summary>
    void Finished(StreamSession session);
}
