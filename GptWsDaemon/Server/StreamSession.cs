using System.Diagnostics;
using GptWsDaemon.Observability;
using GptWsDaemon.Protocol;
using GptWsDaemon.Text;
using GptWsDaemon.Upstream;
using NLog;

namespace GptWsDaemon.Server;

/// <summary>
/// One request's life: calls the upstream, relays each delta (or each sentence) as a frame, and ends with exactly one
/// final frame (protocol.md §5). Owns the stream's <see cref="CancellationTokenSource"/>, linked to its connection's.
/// </summary>
public sealed class StreamSession : IStreamSlot, IDisposable
{
    private static readonly Logger Log = LogManager.GetLogger("GptWsDaemon.Requests");
    private ChatRequest _request; // without its text once the upstream request is written
    private readonly IChatUpstream _upstream;
    private readonly IStreamHost _connection;
    private readonly DaemonMetrics _metrics;
    private readonly int _minChars;
    private readonly TtsLimits _tts;
    private readonly CancellationTokenSource _cts;
    private StreamEndReason _reason;
    private long _firstFrameAt;
    private int _tokens;
    private int _frames;
    private ServedBy? _servedBy;

    /// <summary>Creates the session; <see cref="RunAsync"/> starts it.</summary>
    public StreamSession(ChatRequest request, IChatUpstream upstream, IStreamHost connection, DaemonMetrics metrics, int minChars, TtsLimits tts, CancellationToken connectionToken)
    {
        _request = request;
        _upstream = upstream;
        _connection = connection;
        _metrics = metrics;
        _minChars = minChars;
        _tts = tts;
        _cts = CancellationTokenSource.CreateLinkedTokenSource(connectionToken);
    }

    /// <summary>Who the stream is charged to.</summary>
    internal ClientIdentity Client { get; init; } = new("unknown", false);

    /// <summary>The quota gate; null when nothing is counted.</summary>
    internal Quotas.QuotaGate? Quota { get; init; }

    /// <summary>limits.max_output_tokens, or null.</summary>
    internal int? MaxOutputTokens { get; init; }

    /// <summary>The task running this session (set by its connection when it starts it).</summary>
    public Task Completion { get; set; } = Task.CompletedTask;

    private int _released;

    /// <summary>Why it was cancelled (None: it was not).</summary>
    internal StreamEndReason EndReason => _reason;

    /// <inheritdoc/>
    public RequestSeq Seq => _request.Seq;

    /// <inheritdoc/>
    bool IStreamSlot.HoldsDaemonSlot => true;

    /// <inheritdoc/>
    bool IStreamSlot.TryMarkReleased() => Interlocked.Exchange(ref _released, 1) == 0;

    /// <summary>The request.</summary>
    public ChatRequest Request => _request;

    /// <summary>Aborts the upstream request; <paramref name="reason"/> decides the final frame.</summary>
    public void Cancel(StreamEndReason reason)
    {
        if (_reason == StreamEndReason.None)
        {
            _reason = reason;
        }

        try
        {
            _cts.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Already finished.
        }
    }

    /// <summary>
    /// Streams the answer and then hands the session back to its connection (<see cref="IStreamHost.Finished"/>);
    /// never throws. Returns at its first await: once the upstream request is written for a short request, at once for
    /// one whose start costs more (see <see cref="InlineStartChars"/>).
    /// </summary>
    public async Task RunAsync()
    {
        if (Quota is not null || _request.TextChars(InlineStartChars) > InlineStartChars)
        {
            // Tokenizing a prompt for its quota, or writing a long conversation, would hold the socket thread this
            // runs on (completions run inline) and every connection waiting on it: that work goes to the thread pool.
            await Task.Yield();
        }

        try
        {
            var token = _cts.Token;
            if (Log.IsDebugEnabled)
            {
                // protocol.md §7: message contents only at Debug.
                var question = _request.Messages.Count > 0 ? _request.Messages[^1].Content : string.Empty;
                Log.Debug("request start seq={0} conn={1} model={2} upstream_model={3} messages={4} question={5}", _request.Seq, _connection.Id, LogText.Client(_request.Model), LogText.Client(_request.UpstreamModel), _request.Messages.Count, LogText.Client(question, 500));
            }

            var segmenter = _request.OriginStream ? null : new SentenceSegmenter(_request.Segment, _minChars, tts: _tts);
            var hold = segmenter is null ? null : new SegmentHoldClock();
            var stripper = _request.StripMarkdown ? new MarkdownStripper(_tts.CodePlaceholder) : null;
            var stripped = stripper is null ? null : new System.Text.StringBuilder();
            string finish = "stop";
            UsageInfo? usage = null;
            var refusal = false;
            byte[]? toolCalls = null;
            var code = ErrorCodes.Ok;
            string? errorMessage = null;
            string? upstreamCode = null;
            Quotas.StreamAccount? account = null;
            try
            {
                account = Quota is null ? null : await Quotas.StreamAccount.OpenAsync(Quota, Client, _request, token).ConfigureAwait(false);
                if (account is { Admission.IsAllowed: false })
                {
                    throw new UpstreamException(ErrorCodes.QuotaExceeded, account.RefusalMessage()); // no upstream request is sent
                }

                if (Cap(MaxOutputTokens, account?.MaxOutputTokens) is { } cap)
                {
                    _request = _request with { OutputCap = cap };
                }

                var chunks = _upstream.StreamAsync(_request, token);
                _request = _request.WithoutText(); // the upstream has what it needs of the text (IChatUpstream.StreamAsync)

                var sinceYield = 0;
                await foreach (var chunk in chunks.WithCancellation(token).ConfigureAwait(false))
                {
                    // An upstream that writes faster than we relay keeps every read synchronous: without a yield now and
                    // then this loop holds its thread, and a cancel or a close from the client waits for the pool to grow.
                    if (++sinceYield == 256)
                    {
                        sinceYield = 0;
                        await Task.Yield();
                    }

                    _servedBy ??= chunk.Origin;
                    if (!chunk.Reasoning.IsEmpty && _request.RelayReasoning)
                    {
                        // protocol.md §5.1: reasoning in frames of its own, never in contents, never segmented.
                        Send(ReplyFrames.Reasoning(_request.Seq, _request.ReceivedAt, chunk.Reasoning.Span));
                    }

                    refusal |= chunk.Refusal;
                    toolCalls = chunk.ToolCalls ?? toolCalls;
                    if (!chunk.Content.IsEmpty)
                    {
                        account?.Relayed(chunk.Content.Span);
                        _tokens++;
                        if (stripper is null)
                        {
                            Relay(chunk.Content.Span, segmenter, hold);
                        }
                        else
                        {
                            stripped!.Clear();
                            stripper.Append(chunk.Content.Span, stripped);
                            RelayStripped(stripped, segmenter, hold);
                        }
                    }

                    if (chunk.FinishReason is { } reason)
                    {
                        // protocol.md §5.2 knows stop, length, tool_calls, cancelled, error: content_filter and the like end as stop.
                        finish = reason switch { "length" => "length", "tool_calls" => "tool_calls", _ => "stop" };
                    }

                    if (chunk.Usage is { } u)
                    {
                        usage = u;
                    }
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                toolCalls = null; // half-assembled calls are no calls
                finish = "cancelled";
            }
            catch (UpstreamException e)
            {
                code = e.Code;
                errorMessage = e.Message;
                upstreamCode = e.UpstreamCode;
            }
            catch (Exception e)
            {
                code = ErrorCodes.Internal;
                var correlation = Guid.NewGuid().ToString("N")[..12];
                errorMessage = $"internal error (correlation id {correlation})";
                Log.Error(e, "seq={0} conn={1} internal error, correlation id {2}", _request.Seq, _connection.Id, correlation);
            }

            if (account is { Admission.IsAllowed: true })
            {
                // protocol.md §5.2: the tokenizer's count when the provider sent none. Settled before the final frame: a
                // client may start its next request the moment it reads it, and must find its slot free.
                usage = account.Usage(usage);
                await account.SettleAsync(usage.Value, _metrics).ConfigureAwait(false);
            }

            if (_reason != StreamEndReason.ConnectionLost)
            {
                // protocol.md §5: "content is never lost: with origin_stream=false the unfinished tail is flushed as a content frame first".
                if (stripper is not null)
                {
                    stripped!.Clear();
                    stripper.Complete(stripped);
                    RelayStripped(stripped, segmenter, hold);
                }

                if (segmenter is not null)
                {
                    segmenter.Complete();
                    SendPieces(segmenter, hold!);
                }

                // Free the seq and the slots first: a client may reuse them the moment it reads the final frame.
                _connection.Release(this);
                Send(errorMessage is null
                    ? ReplyFrames.Final(_request.Seq, _request.ReceivedAt, finish, usage, _servedBy?.Provider, _servedBy?.KeyId, new FinalExtras(refusal, toolCalls))
                    : ReplyFrames.Error(code, errorMessage, _request.Seq, _request.ReceivedAt, upstreamCode, _servedBy?.Provider, _servedBy?.KeyId, account?.Admission.IsAllowed == false ? account.Admission.RetryAfter : null));
            }
            else
            {
                finish = "disconnected";
            }

            LogEnd(code, errorMessage is null ? finish : "error");
        }
        finally
        {
            _connection.Finished(this);
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _cts.Dispose();

    /// <summary>
    /// Up to this much text a request is written to the upstream on the thread that received it (tens of
    /// microseconds): a hop to the thread pool waits for a core under load, 10-30 ms of TTFT at 1,000 streams on 2 cores
    /// (bench/RESULTS.md, issue 19).
    /// </summary>
    internal const int InlineStartChars = 16 * 1024;

    /// <summary>The smaller of two caps, either may be unset.</summary>
    private static int? Cap(int? a, int? b) => a is null ? b : b is null ? a : Math.Min(a.Value, b.Value);

    /// <summary>Text for the client: a frame of its own (origin_stream) or into the segmenter, whose finished pieces go out.</summary>
    private void Relay(ReadOnlySpan<char> text, SentenceSegmenter? segmenter, SegmentHoldClock? hold)
    {
        if (text.IsEmpty)
        {
            return;
        }

        if (segmenter is null)
        {
            Send(ReplyFrames.Content(_request.Seq, _request.ReceivedAt, text));
            return;
        }

        hold!.Appended(text.Length);
        segmenter.Append(text);
        SendPieces(segmenter, hold);
    }

    private void RelayStripped(System.Text.StringBuilder stripped, SentenceSegmenter? segmenter, SegmentHoldClock? hold)
    {
        foreach (var part in stripped.GetChunks())
        {
            Relay(part.Span, segmenter, hold);
        }
    }

    private void SendPieces(SentenceSegmenter segmenter, SegmentHoldClock hold)
    {
        while (segmenter.TryTake(out var piece))
        {
            _metrics.ObserveSegmentHold(_request.Segment, hold.Released(piece.Length));
            Send(ReplyFrames.Content(_request.Seq, _request.ReceivedAt, piece));
        }
    }

    private void Send(OutgoingFrame frame)
    {
        if (_firstFrameAt == 0)
        {
            _firstFrameAt = Stopwatch.GetTimestamp();
        }

        _frames++;
        _connection.Send(frame);
    }

    private void LogEnd(int code, string finish)
    {
        _metrics.CountRequest(code);
        _metrics.CountTokens(_tokens);
        var elapsed = Stopwatch.GetElapsedTime(_request.ReceivedAt);
        _metrics.ObserveDuration(elapsed);
        if (!Log.IsInfoEnabled)
        {
            return; // the line's arguments (an array, boxed numbers, strings) are built only when it is written
        }

        var ttft = _firstFrameAt == 0 ? "-" : Stopwatch.GetElapsedTime(_request.ReceivedAt, _firstFrameAt).TotalSeconds.ToString("F3", System.Globalization.CultureInfo.InvariantCulture);
        var mode = _request.OriginStream ? "origin" : _request.Segment.ToString().ToLowerInvariant();
        Log.Info(
            "request end seq={0} conn={1} model={2} mode={3} ttft={4} consume_time={5:F2} tokens={6} frames={7} code={8} finish={9} provider={10} key={11}",
            _request.Seq, _connection.Id, LogText.Client(_request.Model), mode, ttft, elapsed.TotalSeconds, _tokens, _frames, code, finish, _servedBy?.Provider ?? "-", _servedBy?.KeyId ?? "-");
    }
}
