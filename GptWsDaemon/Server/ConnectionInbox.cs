using System.Diagnostics;
using System.Net.WebSockets;
using GptWsDaemon.Config;
using GptWsDaemon.Observability;
using GptWsDaemon.Protocol;
using NLog;

namespace GptWsDaemon.Server;

/// <summary>
/// What a client's message does: read it whole (<see cref="MessageReader"/>), parse it, and run its command — start a
/// stream, cancel one, answer a ping, or answer an invalid one with its error frame (protocol.md §4, §6). The
/// connection owns the socket and the send loop; this owns what its messages mean.
/// </summary>
internal sealed class ConnectionInbox(ClientConnection connection, MessageReader reader, RequestParser parser, ConnectionStreams streams, DaemonSettings settings, DaemonMetrics metrics)
{
    private static readonly Logger Log = LogManager.GetLogger("GptWsDaemon.Server.ClientConnection");
    private readonly LogThrottle _refusals = new(10, TimeSpan.FromSeconds(10), metrics.CountSuppressedLines);

    /// <summary>How long the message being read has been unfinished (zero when none is).</summary>
    public TimeSpan PendingFor => reader.PendingFor;

    /// <summary>Refusal lines left out of the log since the last summary.</summary>
    public long SuppressedRefusals => _refusals.Pending;

    /// <summary>Reads one message to its end and handles it; false when the connection must end (over the pending budget).</summary>
    public async Task<bool> ReadAsync(ValueWebSocketReceiveResult first, long receivedAt, CancellationToken cancellationToken)
    {
        var message = await reader.ReadAsync(first, receivedAt, cancellationToken).ConfigureAwait(false);
        try
        {
            switch (message.Outcome)
            {
                case MessageOutcome.Closed:
                    connection.ClientClosed();
                    throw new OperationCanceledException("client closed mid-message");
                case MessageOutcome.OverBudget:
                    return OverPendingBudget(receivedAt);
                case MessageOutcome.TooLarge:
                    connection.Send(ReplyFrames.Error(ErrorCodes.FrameTooLarge, $"frame larger than {settings.MaxMessageBytes} bytes (limits.max_message_bytes)", null, receivedAt));
                    break;
                case MessageOutcome.Complete when message.Type == WebSocketMessageType.Binary:
                    connection.Send(ReplyFrames.Error(ErrorCodes.BadFrame, "binary frames are not accepted; send JSON as a text frame", null, receivedAt));
                    break;
                default:
                    try
                    {
                        Handle(parser.Parse(message.Bytes, receivedAt));
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        // A bug must cost one request, never the connection and its other streams.
                        var correlation = Guid.NewGuid().ToString("N")[..12];
                        Log.Error(e, "conn={0} internal error handling a frame, correlation id {1}", connection.Id, correlation);
                        connection.Send(ReplyFrames.Error(ErrorCodes.Internal, $"internal error (correlation id {correlation})", null, receivedAt));
                    }

                    break;
            }

            return true;
        }
        finally
        {
            reader.Release(message);
        }
    }

    private bool OverPendingBudget(long receivedAt)
    {
        const string Reason = "the daemon's budget for unfinished messages is spent (limits.pending_message_bytes)";
        connection.Send(ReplyFrames.Error(ErrorCodes.FrameTooLarge, Reason + "; connection closed", null, receivedAt));
        connection.Drop(WebSocketCloseStatus.MessageTooBig, Reason, "pending_budget");
        return false; // the rest of the message is never read
    }

    private void Handle(ClientCommand command)
    {
        switch (command)
        {
            case ClientCommand.Chat chat:
                Start(chat.Request);
                break;
            case ClientCommand.Cancel cancel:
                var target = streams.Find(cancel.Seq.Text);

                // A cancel that crosses the stream's final frame is not an error: that stream already had its one end.
                if (target is null)
                {
                    Log.Debug("conn={0} cancel for seq {1}, which is not streaming", connection.Id, cancel.Seq);
                }
                else
                {
                    target.Cancel(StreamEndReason.ClientCancel);
                }

                break;
            case ClientCommand.ResumeFrom resume:
                Resume(resume);
                break;
            case ClientCommand.Ping ping:
                connection.Send(ReplyFrames.Pong(ping.Seq));
                break;
            case ClientCommand.Invalid invalid:
                metrics.CountRequest(invalid.Code);
                Log.Debug("request refused seq={0} conn={1} code={2} msg={3}", invalid.Seq?.ToString() ?? "null", connection.Id, invalid.Code, LogText.Client(invalid.Message, 300));
                connection.Send(ReplyFrames.Error(invalid.Code, invalid.Message, invalid.Seq, Stopwatch.GetTimestamp()));
                break;
            default:
                // Every command the parser can produce has an entry above: a new one must get one too.
                throw new UnreachableException("no handler for " + command.GetType().Name);
        }
    }

    private void Start(ChatRequest request)
    {
        (int Code, string Message)? refusal;
        if (request.Resumable && connection.Resumables is { } registry)
        {
            refusal = streams.TryAdd(request.Seq, connection.IsClosing, daemonSlot: true, () => new Streams.StreamSubscription(connection, request.Seq, request.ReceivedAt), out var first);
            refusal ??= StartResumable(registry, request, first!);
            if (refusal is null)
            {
                return;
            }
        }
        else
        {
            refusal = streams.TryAdd(request.Seq, connection.IsClosing, daemonSlot: true, () => connection.NewSession(request), out var session);
            if (session is not null)
            {
                session.Completion = session.RunAsync();
                return;
            }
        }

        metrics.CountRequest(refusal!.Value.Code);
        if (_refusals.TryWrite(out var suppressed))
        {
            Log.Info("request refused seq={0} conn={1} model={2} code={3} msg={4}", request.Seq, connection.Id, LogText.Client(request.Model), refusal.Value.Code, LogText.Client(refusal.Value.Message, 300));
        }
        else if (suppressed > 0)
        {
            Log.Info("conn={0}: {1} more refusal lines not logged (rate limit)", connection.Id, suppressed);
        }

        connection.Send(ReplyFrames.Error(refusal.Value.Code, refusal.Value.Message, request.Seq, request.ReceivedAt));
    }

    /// <summary>Starts a resumable stream read by <paramref name="first"/> (registered, with a daemon-wide slot); the refusal, or null.</summary>
    private (int Code, string Message)? StartResumable(Streams.StreamRegistry registry, ChatRequest request, Streams.StreamSubscription first)
    {
        Streams.StreamLog log;
        try
        {
            log = registry.Open(connection.Owner, connection.Id, request.Seq, connection.GiveDaemonSlot);
        }
        catch (Streams.StoreUnavailableException e)
        {
            connection.GiveDaemonSlot();
            streams.Finished(first);
            return (ErrorCodes.AtCapacity, e.Message);
        }

        log.Start(connection.NewSession(request, log), first);
        return null;
    }

    /// <summary>protocol.md §4.5: follow a resumable stream under this seq, from the frame after <c>after</c>.</summary>
    private void Resume(ClientCommand.ResumeFrom resume)
    {
        var refusal = streams.TryAdd(resume.Seq, connection.IsClosing, daemonSlot: false, () => new Streams.StreamSubscription(connection, resume.Seq, resume.ReceivedAt), out var subscription);
        if (subscription is null)
        {
            connection.Send(ReplyFrames.Error(refusal!.Value.Code, refusal.Value.Message, resume.Seq, resume.ReceivedAt));
            return;
        }

        _ = AttachAsync(subscription, resume); // a lookup in Redis must not hold the receive loop
    }

    private async Task AttachAsync(Streams.StreamSubscription subscription, ClientCommand.ResumeFrom resume)
    {
        string? refusal;
        try
        {
            refusal = connection.Resumables is { } registry
                ? await registry.ResumeAsync(subscription, resume.StreamId, resume.After, connection.Owner).ConfigureAwait(false)
                : Streams.StreamRegistry.NotFound;
        }
        catch (Exception e)
        {
            Log.Warn("conn={0} resume of {1} failed: {2}", connection.Id, resume.StreamId, e.Message);
            refusal = "resume failed: the resume log cannot be read now; retry";
        }

        if (refusal is not null)
        {
            Log.Debug("resume refused seq={0} conn={1} stream={2}: {3}", resume.Seq, connection.Id, resume.StreamId, refusal);
            subscription.EndWith(ReplyFrames.Error(ErrorCodes.StreamNotFound, refusal, resume.Seq, resume.ReceivedAt));
        }
    }
}
