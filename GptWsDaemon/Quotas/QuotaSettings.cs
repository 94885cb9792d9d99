namespace GptWsDaemon.Quotas;

/// <summary>The quota configuration (ini <c>[quota]</c>, <c>[quota.NAME]</c>, <c>quota.on_store_error</c>).</summary>
public sealed record QuotaSettings
{
    /// <summary>No quotas: the daemon counts nothing.</summary>
    public static readonly QuotaSettings Off = new();

    /// <summary>Every client's limits, unless its own section sets them.</summary>
    public QuotaLimits Defaults { get; init; } = QuotaLimits.None;

    /// <summary>Per client name.</summary>
    public IReadOnlyDictionary<string, QuotaLimits> PerClient { get; init; } = new Dictionary<string, QuotaLimits>(StringComparer.Ordinal);

    /// <summary>True: a request passes when the store cannot be reached (logged, counted); false: it is refused.</summary>
    public bool OpenOnStoreError { get; init; } = true;

    /// <summary>Whether any quota is configured.</summary>
    public bool Any => Defaults != QuotaLimits.None || PerClient.Count > 0;

    /// <summary>The limits of <paramref name="client"/>.</summary>
    public QuotaLimits For(string client) => PerClient.TryGetValue(client, out var own) ? Defaults.With(own) : Defaults;
}
