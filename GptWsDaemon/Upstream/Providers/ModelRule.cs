namespace GptWsDaemon.Upstream.Providers;

/// <summary>
/// How requests for models matching <see cref="Pattern"/> are written (protocol.md §4.1 "Reasoning models"; ini
/// <c>[model.PATTERN]</c>): the name of the output cap, and whether the seed's sampling defaults are sent or only
/// what the client set itself. Reasoning models (o1, o3, o4, gpt-5) refuse <c>max_tokens</c> and any sampling value
/// but the default, so their built-in rule sends <c>max_completion_tokens</c> and the client's own values only.
/// </summary>
/// <param name="Pattern">Model pattern (<see cref="ModelPattern"/>), matched against the model asked after aliases.</param>
/// <param name="MaxTokensParam"><c>max_tokens</c> or <c>max_completion_tokens</c>.</param>
/// <param name="ClientSamplingOnly">True: a sampling parameter goes out only when the client set it.</param>
public sealed record ModelRule(string Pattern, string MaxTokensParam, bool ClientSamplingOnly)
{
    /// <summary>Models without a rule of their own.</summary>
    public static readonly ModelRule Default = new("*", "max_tokens", false);

    /// <summary>The rules every daemon starts with.</summary>
    public static readonly IReadOnlyList<ModelRule> BuiltIn =
    [
        new("o1*", "max_completion_tokens", true),
        new("o3*", "max_completion_tokens", true),
        new("o4*", "max_completion_tokens", true),
        new("gpt-5*", "max_completion_tokens", true),
    ];

    /// <summary>The most specific rule of <paramref name="rules"/> for <paramref name="model"/>, or <see cref="Default"/>.</summary>
    public static ModelRule For(IReadOnlyList<ModelRule> rules, string model)
    {
        ModelRule? best = null;
        foreach (var rule in rules)
        {
            if (ModelPattern.Matches(rule.Pattern, model) && (best is null || ModelPattern.Specificity(rule.Pattern) > ModelPattern.Specificity(best.Pattern)))
            {
                best = rule;
            }
        }

        return best ?? Default;
    }
}
