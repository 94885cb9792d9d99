using GptWsDaemon.Config;
using GptWsDaemon.Upstream.Providers;

namespace GptWsDaemon.Tests.Upstream;

/// <summary><see cref="RouteTable"/>: the most specific pattern wins, whatever the ini's order; no match is null.</summary>
[Category("unit")]
[TestFixture]
public sealed class RouteTableTests
{
    [TestCase("gpt-4o", "exact")]
    [TestCase("gpt-4o-mini", "four")]
    [TestCase("gpt-4.1", "gpt")]
    [TestCase("deepseek-chat", "any")]
    [TestCase("x-gpt-4o", "any")]
    [TestCase("my-model-instruct", "suffix")]
    public void Resolve_MostSpecificPatternWins(string model, string expected)
    {
        var names = new[] { "any", "gpt", "four", "exact", "suffix" };
        var providers = names.Select(n => new Provider(new ProviderSettings { Name = n, BaseUrl = "http://127.0.0.1:9/v1", ApiKeys = ["sk-k-0000000000" + n] }, new DaemonSettings(), TimeProvider.System, null)).ToList();
        RouteRule[] rules = [new("*", ["any"]), new("gpt-*", ["gpt"]), new("gpt-4o*", ["four"]), new("gpt-4o", ["exact"]), new("*-instruct", ["suffix"])];
        foreach (var order in new[] { rules, rules.Reverse().ToArray() })
        {
            var table = new RouteTable(order, providers);
            Assert.That(table.Resolve(model)!.Select(p => p.Name), Is.EqualTo(new[] { expected }), string.Join(" ", order.Select(r => r.Pattern)));
        }

        providers.ForEach(p => p.Dispose());
    }

    [Test]
    public void Resolve_NoPatternMatches_Null_AndNoRulesMeansFirstProvider()
    {
        using var a = new Provider(new ProviderSettings { Name = "a", BaseUrl = "http://127.0.0.1:9/v1", ApiKeys = ["sk-a-000000000000"] }, new DaemonSettings(), TimeProvider.System, null);
        using var b = new Provider(new ProviderSettings { Name = "b", BaseUrl = "http://127.0.0.1:9/v1", ApiKeys = ["sk-b-000000000000"] }, new DaemonSettings(), TimeProvider.System, null);
        Assert.Multiple(() =>
        {
            Assert.That(new RouteTable([new RouteRule("gpt-*", ["b", "a"])], [a, b]).Resolve("claude-3"), Is.Null);
            Assert.That(new RouteTable([new RouteRule("gpt-*", ["b", "a"])], [a, b]).Resolve("gpt-5")!.Select(p => p.Name), Is.EqualTo(new[] { "b", "a" }));
            Assert.That(new RouteTable([], [a, b]).Resolve("anything")!.Select(p => p.Name), Is.EqualTo(new[] { "a" }));
        });
    }
}
