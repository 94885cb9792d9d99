namespace GptWsDaemon.Quotas;

/// <summary>The answer of a quota check: allowed, or which limit refused and when to try again.</summary>
/// <param name="Limit">null: allowed; else requests_per_minute, concurrent_streams or tokens_per_day.</param>
/// <param name="Value">The limit's value.</param>
/// <param name="RetryAfter">Seconds until the request could pass (at least 1).</param>
public readonly record struct Admission(string? Limit, int Value, int RetryAfter)
{
    /// <summary>Allowed.</summary>
    public static Admission Allowed => default;

    /// <summary>Let through without the store counting it (the store was down): nothing to give back at the end.</summary>
    public bool Uncounted { get; init; }

    /// <summary>Whether the request may go.</summary>
    public bool IsAllowed => Limit is null;
}
