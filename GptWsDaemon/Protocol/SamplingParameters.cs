namespace GptWsDaemon.Protocol;

/// <summary>The sampling parameters of protocol.md §4, each the client's value or the table's default.</summary>
public sealed record SamplingParameters
{
    /// <summary>0–2, default 0.</summary>
    public double Temperature { get; init; }

    /// <summary>1–limits.max_tokens, default 500.</summary>
    public int MaxTokens { get; init; } = 500;

    /// <summary>0–1, default 1.</summary>
    public double TopP { get; init; } = 1;

    /// <summary>−2–2, default 0.</summary>
    public double FrequencyPenalty { get; init; }

    /// <summary>−2–2, default 0.</summary>
    public double PresencePenalty { get; init; }

    /// <summary>1–20, default 1; completions only.</summary>
    public int BestOf { get; init; } = 1;

    /// <summary>Up to four stop strings, default ["Human:"].</summary>
    public IReadOnlyList<string> Stop { get; init; } = ["Human:"];

    /// <summary>The parameters the client set itself (the others are this table's defaults).</summary>
    public SamplingField Explicit { get; init; }

    /// <summary>Whether the client set <paramref name="field"/>.</summary>
    public bool IsExplicit(SamplingField field) => (Explicit & field) != 0;
}
