using System.Runtime.CompilerServices;
using GptWsDaemon.Config;
using GptWsDaemon.Observability;
using GptWsDaemon.Protocol;
using GptWsDaemon.Upstream.Dialects;
using GptWsDaemon.Upstream.Providers;

namespace GptWsDaemon.Upstream;

/// <summary>
/// The one streaming engine under every provider (protocol.md §2 "Providers"): routes a request by model, walks its
/// route until a provider answers (<see cref="RouteWalk"/>: keys, retries, failover), then reads the SSE body through the
/// provider's <see cref="IDialect"/>, joins split surrogate pairs, enforces the first-token, idle and total deadlines,
/// and turns every failure into a redacted <see cref="UpstreamException"/> (<see cref="UpstreamFailures"/>). A
/// stream that fails before any content reached the client moves on along its route; after that it ends with its error.
/// </summary>
public sealed class ProviderStreams : IChatUpstream, IDisposable
{
    private readonly DaemonSettings _settings;
    private readonly UpstreamFailures _failures;
    private readonly DaemonMetrics _metrics;
    private readonly Provider[] _providers;
    private readonly RouteTable _routes;

    /// <summary>Creates the providers of <paramref name="settings"/> (at least one).</summary>
    public ProviderStreams(DaemonSettings settings, SecretRedactor redactor, DaemonMetrics metrics, TimeProvider? time = null)
    {
        _settings = settings;
        _failures = new UpstreamFailures(settings, redactor);
        _metrics = metrics;
        _providers = [.. settings.Providers.Select(p => new Provider(p, settings, time ?? TimeProvider.System, metrics.ForProvider(p.Name)))];
        _routes = new RouteTable(settings.Routes, _providers);
    }

    /// <inheritdoc/>
    public string Name => "providers";

    /// <inheritdoc/>
    public IReadOnlyList<Provider> Providers => _providers;

    /// <inheritdoc/>
    /// <remarks>
    /// The request's text is used only until a provider's stream is the client's (<see cref="RouteWalk.Commit"/>): the
    /// stream that follows holds neither the text nor the body (see <see cref="RequestBodyContent"/>), so a long
    /// conversation costs memory only until it is on the wire, not for as long as the answer streams.
    /// </remarks>
    public IAsyncEnumerable<UpstreamChunk> StreamAsync(ChatRequest request, CancellationToken cancellationToken)
    {
        var route = _routes.Resolve(request.UpstreamModel)
            ?? throw new UpstreamException(ErrorCodes.BadParameter, $"model: no provider serves \"{LogText.Client(request.UpstreamModel, 60)}\" (routes: {string.Join(", ", _routes.Patterns)})");
        return StreamAsync(new RouteWalk(route, request, _settings, _failures, _metrics, cancellationToken), cancellationToken);
    }

    private async IAsyncEnumerable<UpstreamChunk> StreamAsync(RouteWalk walk, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var _ = walk;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        StreamState? state = null; // the buffers chunks are unescaped into: rented once per stream, not a string per token
        try
        {
            while (true)
            {
                using var response = await walk.OpenAsync().ConfigureAwait(false);
                var timeout = walk.Deadline;
                var dialect = walk.Provider.Dialect;
                Stream stream;
                try
                {
                    // SocketsHttpHandler's response content hands its stream over synchronously; the async call would only
                    // wrap it in a Task that lives as long as the response.
                    stream = response.Content.ReadAsStream(timeout.Token);
                }
                catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
                {
                    throw walk.Final(_failures.TimedOut(timeout, true, e));
                }

                var events = new SseReader(stream, arrival: PlainHttpArrival.TryAttach(stream)).ReadAsync(timeout.Token).GetAsyncEnumerator(timeout.Token);
                var stitcher = default(SurrogateStitcher);
                var reasoningStitcher = default(SurrogateStitcher);
                state?.Return();
                state = new StreamState();
                var first = true;
                UpstreamException? failure = null;
                await using (events.ConfigureAwait(false))
                {
                    var finished = false;
                    while (true)
                    {
                        bool more;
                        try
                        {
                            more = await events.MoveNextAsync().ConfigureAwait(false);
                        }
                        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
                        {
                            failure = _failures.TimedOut(timeout, first, e);
                            break;
                        }
                        catch (Exception e) when (e is IOException or HttpRequestException or InvalidDataException)
                        {
                            failure = _failures.Broken(e);
                            break;
                        }

                        if (!more)
                        {
                            failure = finished ? null : new UpstreamException(ErrorCodes.UpstreamBroken, $"upstream stream ended before {dialect.EndMarker}");
                            break;
                        }

                        UpstreamChunk chunk;
                        bool toolProgress;
                        try
                        {
                            var fragments = state.ToolCalls?.Fragments ?? 0;
                            var verdict = dialect.Read(events.Current, state, out chunk);
                            toolProgress = (state.ToolCalls?.Fragments ?? 0) != fragments;
                            if (verdict == EventVerdict.End)
                            {
                                break;
                            }

                            if (verdict == EventVerdict.Error)
                            {
                                failure = _failures.ErrorEvent(events.Current.Data.Span);
                                break;
                            }

                            if (verdict == EventVerdict.Skip)
                            {
                                continue;
                            }
                        }
                        catch (ReportedErrorException e)
                        {
                            failure = _failures.MidStream(e.Body);
                            break;
                        }
                        catch (UpstreamException e)
                        {
                            failure = e;
                            break;
                        }

                        var length = stitcher.Mend(ref state.Content, chunk.Content.Length);
                        var thought = reasoningStitcher.Mend(ref state.Reasoning, chunk.Reasoning.Length);
                        if (chunk.FinishReason is not null)
                        {
                            length = stitcher.Flush(ref state.Content, length);
                            thought = reasoningStitcher.Flush(ref state.Reasoning, thought);
                            if (state.ToolCalls is { Count: > 0 } calls)
                            {
                                // Delivered once, assembled; a turn that called tools ends as tool_calls even where a server says stop.
                                chunk = chunk with { ToolCalls = calls.ToJson(), FinishReason = chunk.FinishReason == "stop" ? "tool_calls" : chunk.FinishReason };
                            }
                        }

                        chunk = chunk with
                        {
                            Content = length == 0 ? default : state.Content.AsMemory(0, length),
                            Reasoning = thought == 0 ? default : state.Reasoning.AsMemory(0, thought),
                        };

                        // protocol.md §9, openai.idle_timeout_seconds: content, reasoning, tool-call fragments and the finish are progress;
                        // empty events and comments are not, or a stream that says nothing would stay alive for ever.
                        var progress = !chunk.Content.IsEmpty || !chunk.Reasoning.IsEmpty || toolProgress || chunk.FinishReason is not null;
                        if (first)
                        {
                            if (!progress && chunk.Usage is null)
                            {
                                continue; // a role-only delta: nothing is the client's yet, the route may still move on
                            }

                            first = false;
                            walk.Commit();
                            _metrics.ObserveTimeToFirstToken(System.Diagnostics.Stopwatch.GetElapsedTime(started));
                            chunk = chunk with { Origin = walk.ServedBy };
                        }

                        if (progress)
                        {
                            timeout.Extend(_settings.UpstreamIdleTimeout);
                        }

                        finished |= chunk.FinishReason is not null;
                        yield return chunk;
                    }
                }

                // A high surrogate still held back will never be paired: its U+FFFD goes out before the end or the error.
                var tail = stitcher.Flush(ref state.Content, 0);
                var thoughtTail = reasoningStitcher.Flush(ref state.Reasoning, 0);
                if ((tail > 0 || thoughtTail > 0) && !first)
                {
                    yield return new UpstreamChunk(state.Content.AsMemory(0, tail), null, null) { Reasoning = state.Reasoning.AsMemory(0, thoughtTail) };
                }

                if (failure is null)
                {
                    yield break;
                }

                if (first && walk.TryMoveOn(failure))
                {
                    continue; // nothing reached the client: the next provider of the route takes the request
                }

                throw first ? walk.Final(failure) : failure;
            }
        }
        finally
        {
            state?.Return();
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var p in _providers)
        {
            p.Dispose();
        }
    }
}
