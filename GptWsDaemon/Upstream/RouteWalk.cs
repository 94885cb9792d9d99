using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.CompilerServices;
using GptWsDaemon.Config;
using GptWsDaemon.Observability;
using GptWsDaemon.Protocol;
using GptWsDaemon.Upstream.Providers;
using NLog;

namespace GptWsDaemon.Upstream;

/// <summary>
/// One request's way along its route until a response is open (protocol.md §6 "Retries and failover"): a key the
/// provider refuses (401/403) or rate-limits (429) is benched and the next key tried at once; a provider down (connect
/// failure or timeout, 5xx, no first token in time) or with every key benched hands the request to the next provider of
/// the route. Only the last provider retries with backoff (<c>openai.max_retries</c>), or waits for a benched key to be
/// back when that fits the first-token clock. Each provider gets a first-token clock of its own; the total cap runs
/// from the request. Nothing here happens once content has reached the client.
/// </summary>
internal sealed class RouteWalk : IDisposable
{
    private static readonly Logger Log = LogManager.GetLogger("GptWsDaemon.Upstream.ProviderStreams");
    private static readonly TimeSpan RateLimitBench = TimeSpan.FromSeconds(30);
    private readonly Provider[] _route;
    private readonly DaemonSettings _settings;
    private readonly UpstreamFailures _failures;
    private readonly DaemonMetrics _metrics;
    private readonly CancellationToken _cancellation;
    private readonly long _started = Stopwatch.GetTimestamp();
    private ChatRequest? _request; // dropped once the stream is the client's: a long conversation is not kept for its answer
    private byte[]? _body; // the current provider's body, reused for its keys and retries
    private int _index;
    private ulong _tried; // keys of the current provider tried since its last retry
    private int _key = -1;
    private int _retries;
    private StreamDeadline? _deadline;
    private UpstreamException? _last;
    private int _lastFrom = -1; // the route index _last came from

    public RouteWalk(Provider[] route, ChatRequest request, DaemonSettings settings, UpstreamFailures failures, DaemonMetrics metrics, CancellationToken cancellation)
    {
        _route = route;
        _request = request;
        _settings = settings;
        _failures = failures;
        _metrics = metrics;
        _cancellation = cancellation;
    }

    /// <summary>The provider tried now.</summary>
    public Provider Provider => _route[_index];

    /// <summary>The clocks of the open response; replaced when the walk moves to the next provider.</summary>
    public StreamDeadline Deadline => _deadline ?? throw new InvalidOperationException("no response is open");

    /// <summary>Who serves the open response.</summary>
    public ServedBy ServedBy => Provider.ServedBy[_key];

    private bool IsLast => _index == _route.Length - 1;

    private string Seq => _request?.Seq.ToString() ?? "-";

    /// <summary>Sends along the route until a provider answers 2xx; throws the <see cref="UpstreamException"/> that ended the walk.</summary>
    /// <remarks>Its state machine lives only until response headers arrive, so a pooled one serves many streams.</remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<HttpResponseMessage> OpenAsync()
    {
        while (true)
        {
            var provider = _route[_index];
            _deadline ??= new StreamDeadline(_settings.FirstTokenTimeout, _settings.MaxStreamDuration - Stopwatch.GetElapsedTime(_started), _cancellation);
            _key = provider.Keys.Take(ref _tried);
            if (_key < 0)
            {
                var back = provider.Keys.UntilFirstBack();
                if (IsLast && _retries < _settings.MaxRetries && back < _deadline.Remaining)
                {
                    await RetryAsync(provider, back, _last).ConfigureAwait(false);
                    continue;
                }

                var benched = Benched(provider);
                Note(benched);
                MoveOn(provider, benched);
                continue;
            }

            var request = _request ?? throw new InvalidOperationException("the stream was already committed");
            var key = provider.Keys.Keys[_key];
            var model = provider.Settings.ModelFor(request.UpstreamModel);
            _body ??= provider.Dialect.WriteBody(request, model);
            provider.Counters?.Requests.Inc();
            var content = new RequestBodyContent(_body);
            TimeSpan? retryAfter = null;
            UpstreamException failure;
            try
            {
                using var message = new HttpRequestMessage(HttpMethod.Post, provider.Dialect.UriFor(request, model))
                {
                    Content = content,
                    // HTTP/2 where TLS negotiates it, HTTP/1.1 otherwise (plain http:// has no upgrade).
                    Version = HttpVersion.Version20,
                    VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
                };
                provider.Dialect.AddHeaders(message.Headers, key);
                message.Headers.TryAddWithoutValidation("Accept", "text/event-stream");

                // The response comes back as soon as its headers are in; its body is read as it streams.
                var response = await provider.Http.SendAsync(message, _deadline.Token).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                {
                    content.Release(); // no retry from here on, by us or by the handler
                    return response;
                }

                using (response)
                {
                    failure = await _failures.DescribeAsync(response, _deadline.Token).ConfigureAwait(false);
                    retryAfter = UpstreamFailures.RetryAfter(response.Headers);
                    switch ((int)response.StatusCode)
                    {
                        case 401 or 403:
                            Note(failure);
                            provider.Keys.Bench(_key, provider.Settings.KeyCooldown, KeyPool.BenchReason.Refused);
                            continue; // the next key, at once
                        case 429:
                            Note(failure);
                            provider.Keys.Bench(_key, retryAfter ?? RateLimitBench, KeyPool.BenchReason.RateLimited);
                            continue;
                        case < 500:
                            throw Final(failure); // the request itself is wrong: no other provider makes it right
                    }
                }
            }
            catch (OperationCanceledException e) when (!_cancellation.IsCancellationRequested)
            {
                // Either the first-token clock ran out (no retry here: its budget is spent) or the connect timeout fired.
                failure = _deadline.Expired ? _failures.TimedOut(_deadline, true, e) : _failures.ConnectTimedOut(e);
                if (_deadline.Expired && IsLast)
                {
                    throw Final(failure);
                }
            }
            catch (HttpRequestException e) when (e.StatusCode is null)
            {
                failure = _failures.Unreachable(e);
            }

            Note(failure);
            if (!IsLast)
            {
                MoveOn(provider, failure);
            }
            else if (_retries < _settings.MaxRetries)
            {
                await RetryAsync(provider, retryAfter ?? Backoff(_retries), failure).ConfigureAwait(false);
            }
            else
            {
                throw Final(failure);
            }
        }
    }

    /// <summary>A stream that failed before any content reached the client: true when the next provider takes the request.</summary>
    public bool TryMoveOn(UpstreamException failure)
    {
        Note(failure);
        if (IsLast)
        {
            return false;
        }

        MoveOn(Provider, failure);
        return true;
    }

    /// <summary>The stream is the client's from here on: the request's text and body are let go.</summary>
    public void Commit()
    {
        _request = null;
        _body = null;
    }

    /// <summary>The failure the walk ends with, naming every provider tried when there were several.</summary>
    public UpstreamException Final(UpstreamException failure) =>
        _route.Length == 1 ? failure
        : new UpstreamException(failure.Code, $"{failure.Message} (providers tried: {string.Join(", ", _route.Take(_index + 1).Select(p => p.Name))})", failure, failure.UpstreamCode);

    /// <inheritdoc/>
    public void Dispose() => _deadline?.Dispose();

    private void Note(UpstreamException failure)
    {
        _last = failure;
        _lastFrom = _index;
    }

    private void MoveOn(Provider provider, UpstreamException failure)
    {
        if (IsLast)
        {
            throw Final(failure);
        }

        provider.Counters?.Failovers.Inc();
        _index++;
        Log.Info("seq={0} provider {1} failed before the first token ({2}: {3}); failing over to {4}", Seq, provider.Name, failure.Code, failure.Message, _route[_index].Name);
        _tried = 0;
        _retries = 0;
        _body = null; // another dialect, another model name
        _deadline?.Dispose();
        _deadline = null; // the next provider gets a first-token clock of its own
    }

    private async ValueTask RetryAsync(Provider provider, TimeSpan delay, UpstreamException? failure)
    {
        _retries++;
        _tried = 0;
        _metrics.CountRetry();
        Log.Info("seq={0} provider {1}: upstream attempt {2} failed ({3}: {4}); retrying in {5:0} ms", Seq, provider.Name, _retries, failure?.Code, failure?.Message ?? "every key benched", delay.TotalMilliseconds);
        try
        {
            await Task.Delay(delay, _deadline!.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (!_cancellation.IsCancellationRequested)
        {
            throw Final(_failures.TimedOut(_deadline!, true, e));
        }
    }

    /// <summary>Every key of <paramref name="provider"/> is benched (or was tried): what the client reads, and what to do about it.</summary>
    private UpstreamException Benched(Provider provider)
    {
        var last = _lastFrom == _index ? _last : null; // a failure of this provider, not of the one before
        var states = provider.Keys.States().Where(s => s.Until is not null).ToList();
        var refused = states.Count > 0 && states.All(s => s.Reason == KeyPool.BenchReason.Refused);
        var detail = states.Count == 0 ? "every key was tried"
            : "every key is benched: " + string.Join(", ", states.Select(s => $"{s.Id} {(s.Reason == KeyPool.BenchReason.Refused ? "refused" : "rate-limited")} until {s.Until!.Value.UtcDateTime.ToString("HH:mm:ss", CultureInfo.InvariantCulture)}Z"));
        var advice = refused ? "check or replace the keys" : "add keys or wait";
        var code = last?.Code ?? (refused ? ErrorCodes.UpstreamAuth : ErrorCodes.UpstreamRateLimit);
        var message = $"provider {provider.Name}: {detail}; {advice}";
        return new UpstreamException(code, last is null ? message : $"{last.Message}; {message}", last, last?.UpstreamCode);
    }

    private TimeSpan Backoff(int attempt)
    {
        // Exponential with full jitter in [0.5, 1.5) so that many streams failing together do not retry together.
        var factor = Math.Pow(2, attempt) * (0.5 + Random.Shared.NextDouble());
        return TimeSpan.FromMilliseconds(_settings.RetryBaseDelay.TotalMilliseconds * factor);
    }
}
