namespace GptWsDaemon.Protocol;

/// <summary>The sampling parameters of protocol.md §4.1, as flags: which ones a client set itself.</summary>
[Flags]
public enum SamplingField
{
    /// <summary>None.</summary>
    None = 0,

    /// <summary>temperature.</summary>
    Temperature = 1,

    /// <summary>max_tokens.</summary>
    MaxTokens = 2,

    /// <summary>top_p.</summary>
    TopP = 4,

    /// <summary>frequency_penalty.</summary>
    FrequencyPenalty = 8,

    /// <summary>presence_penalty.</summary>
    PresencePenalty = 16,

    /// <summary>best_of.</summary>
    BestOf = 32,

    /// <summary>stop.</summary>
    Stop = 64,
}
