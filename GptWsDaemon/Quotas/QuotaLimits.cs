namespace GptWsDaemon.Quotas;

/// <summary>One client's limits (protocol.md §2.3 "Quotas": <c>[quota]</c> for everyone, <c>[quota.NAME]</c> on top); null: no limit.</summary>
public sealed record QuotaLimits
{
    /// <summary>No limit at all.</summary>
    public static readonly QuotaLimits None = new();

    /// <summary>Requests started per UTC minute.</summary>
    public int? RequestsPerMinute { get; init; }

    /// <summary>Streams running at once.</summary>
    public int? ConcurrentStreams { get; init; }

    /// <summary>Prompt plus completion tokens per UTC day.</summary>
    public int? TokensPerDay { get; init; }

    /// <summary>The output cap sent upstream for this client's requests.</summary>
    public int? MaxOutputTokens { get; init; }

    /// <summary>This client's limits: <paramref name="own"/>'s where set, else these.</summary>
    public QuotaLimits With(QuotaLimits own) => new()
    {
        RequestsPerMinute = own.RequestsPerMinute ?? RequestsPerMinute,
        ConcurrentStreams = own.ConcurrentStreams ?? ConcurrentStreams,
        TokensPerDay = own.TokensPerDay ?? TokensPerDay,
        MaxOutputTokens = own.MaxOutputTokens ?? MaxOutputTokens,
    };
}
