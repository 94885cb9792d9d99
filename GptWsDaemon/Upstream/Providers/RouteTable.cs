using System.Collections.Frozen;

namespace GptWsDaemon.Upstream.Providers;

/// <summary>Which providers serve a model, in order (ini <c>[routes]</c>, protocol.md §2 "Providers").</summary>
public sealed class RouteTable
{
    private readonly (RouteRule Rule, Provider[] Providers)[] _rules; // most specific first
    private readonly FrozenDictionary<string, Provider[]> _exact;

    /// <summary>Binds <paramref name="rules"/> to <paramref name="providers"/>; no rules: every model goes to the first provider.</summary>
    public RouteTable(IReadOnlyList<RouteRule> rules, IReadOnlyList<Provider> providers)
    {
        var byName = providers.ToDictionary(p => p.Name, StringComparer.Ordinal);
        if (rules.Count == 0)
        {
            rules = [new RouteRule("*", [providers[0].Name])];
        }

        _rules = [.. rules
            .OrderByDescending(r => r.Specificity)
            .ThenBy(r => r.Pattern, StringComparer.Ordinal)
            .Select(r => (r, r.Providers.Select(n => byName.TryGetValue(n, out var p) ? p : throw new ArgumentException($"route {r.Pattern}: no provider {n}")).ToArray()))];
        _exact = _rules.Where(r => !r.Rule.Pattern.Contains('*', StringComparison.Ordinal)).ToFrozenDictionary(r => r.Rule.Pattern, r => r.Providers, StringComparer.Ordinal);
    }

    /// <summary>The patterns, for an error naming them.</summary>
    public IEnumerable<string> Patterns => _rules.Select(r => r.Rule.Pattern);

    /// <summary>The providers for <paramref name="model"/>, or null when no pattern matches.</summary>
    public Provider[]? Resolve(string model)
    {
        if (_exact.TryGetValue(model, out var exact))
        {
            return exact;
        }

        foreach (var (rule, providers) in _rules)
        {
            if (rule.Matches(model))
            {
                return providers;
            }
        }

        return null;
    }
}
