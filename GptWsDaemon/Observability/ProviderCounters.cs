using Prometheus;

namespace GptWsDaemon.Observability;

/// <summary>One provider's series of <c>/metrics</c> (protocol.md §8): attempts sent, failovers away from it, keys benched.</summary>
/// <param name="Requests">gptws_provider_requests_total.</param>
/// <param name="Failovers">gptws_provider_failovers_total.</param>
/// <param name="Refused">gptws_provider_keys_benched_total, reason refused.</param>
/// <param name="RateLimited">gptws_provider_keys_benched_total, reason rate_limited.</param>
public sealed record ProviderCounters(Counter.Child Requests, Counter.Child Failovers, Counter.Child Refused, Counter.Child RateLimited);
