namespace GptWsDaemon.Upstream.Providers;

/// <summary>
/// One line of <c>[routes]</c>: a model pattern (<c>*</c> matches any run of characters) and the providers to try, in
/// order. Of the patterns a model matches, the one with the most literal characters wins, so the ini's order (which the
/// ini reader does not keep) never matters: <c>gpt-4o*</c> beats <c>gpt-*</c>, and <c>*</c> is the last resort.
/// </summary>
/// <param name="Pattern">The model pattern.</param>
/// <param name="Providers">Provider names, first choice first.</param>
public sealed record RouteRule(string Pattern, IReadOnlyList<string> Providers)
{
    /// <summary>How specific the pattern is: its literal characters.</summary>
    public int Specificity => ModelPattern.Specificity(Pattern);

    /// <summary>Whether <paramref name="model"/> matches the pattern (ordinal, case-sensitive).</summary>
    public bool Matches(string model) => ModelPattern.Matches(Pattern, model);
}
