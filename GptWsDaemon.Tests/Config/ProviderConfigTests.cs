using GptWsDaemon.Config;
using GptWsDaemon.Upstream.Providers;

namespace GptWsDaemon.Tests.Config;

/// <summary>protocol.md §2 "Providers": [provider.NAME], key sources, [routes], and the one-line errors of each.</summary>
[Category("unit")]
[TestFixture]
public sealed class ProviderConfigTests
{
    private string _dir = string.Empty;

    [SetUp]
    public void CreateWorkingDirectory()
    {
        _dir = Path.Combine(Path.GetTempPath(), "gptws-providers-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void DeleteWorkingDirectory() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void Load_IssueExample_ProvidersRoutesKeysAndModels()
    {
        File.WriteAllText(Path.Combine(_dir, "ds.key"), "sk-deepseek-from-file-0001\nsecond line ignored\n");
        var env = new Dictionary<string, string>(StringComparer.Ordinal) { ["OPENAI_API_KEY"] = "sk-openai-000000000001", ["AZURE_OPENAI_KEY"] = "az-key-one-0000000001", ["AZURE_OPENAI_KEY_2"] = "az-key-two-0000000002" };
        var settings = Load("""
            [provider.azure]
            kind = azure                      ; openai (default) | azure | anthropic
            base_url = https://myres.openai.azure.com/
            api_version = 2024-10-21
            api_keys = env:AZURE_OPENAI_KEY, env:AZURE_OPENAI_KEY_2
            models = gpt-4o=prod-4o, gpt-4o-mini=mini   ; model asked → deployment/model sent
            key_cooldown_seconds = 120
            [provider.deepseek]
            base_url = https://api.deepseek.com/v1
            api_keys = file:DSKEY
            [provider.claude]
            kind = anthropic
            api_keys = literal-anthropic-key-01
            [routes]
            gpt-* = openai, azure             ; try in order; later ones are fallbacks
            deepseek-* = deepseek
            claude-* = claude
            * = openai
            """.Replace("DSKEY", Path.Combine(_dir, "ds.key")), env);

        var byName = settings.Providers.ToDictionary(p => p.Name);
        Assert.Multiple(() =>
        {
            Assert.That(settings.Demo, Is.False);
            Assert.That(settings.Providers.Select(p => p.Name), Is.EqualTo(new[] { "openai", "azure", "claude", "deepseek" }).Or.EqualTo(new[] { "openai", "azure", "deepseek", "claude" }));
            Assert.That(byName["openai"].ApiKeys, Is.EqualTo(new[] { "sk-openai-000000000001" }), "the legacy OPENAI_API_KEY defines provider openai");
            Assert.That(byName["azure"].Kind, Is.EqualTo(ProviderKind.Azure));
            Assert.That(byName["azure"].BaseUrl, Is.EqualTo("https://myres.openai.azure.com"), "trailing slash dropped, inline comment gone");
            Assert.That(byName["azure"].ApiVersion, Is.EqualTo("2024-10-21"));
            Assert.That(byName["azure"].ApiKeys, Is.EqualTo(new[] { "az-key-one-0000000001", "az-key-two-0000000002" }));
            Assert.That(byName["azure"].Models, Is.EquivalentTo(new Dictionary<string, string> { ["gpt-4o"] = "prod-4o", ["gpt-4o-mini"] = "mini" }));
            Assert.That(byName["azure"].KeyCooldown, Is.EqualTo(TimeSpan.FromSeconds(120)));
            Assert.That(byName["deepseek"].Kind, Is.EqualTo(ProviderKind.OpenAi));
            Assert.That(byName["deepseek"].ApiKeys, Is.EqualTo(new[] { "sk-deepseek-from-file-0001" }), "file: takes the first line");
            Assert.That(byName["deepseek"].KeyCooldown, Is.EqualTo(ProviderSettings.DefaultKeyCooldown));
            Assert.That(byName["claude"].BaseUrl, Is.EqualTo("https://api.anthropic.com"));
            Assert.That(byName["claude"].AnthropicVersion, Is.EqualTo("2023-06-01"));
            Assert.That(settings.LiteralKeyProviders, Is.EqualTo(new[] { "provider.claude" }), "a literal key is warned about at startup");
            Assert.That(settings.Routes.Single(r => r.Pattern == "gpt-*").Providers, Is.EqualTo(new[] { "openai", "azure" }));
            Assert.That(settings.Routes.Select(r => r.Pattern), Is.EquivalentTo(new[] { "gpt-*", "deepseek-*", "claude-*", "*" }));
        });
    }

    [Test]
    public void Load_OnlyProviderSections_NoLegacyKey_NotDemo()
    {
        var settings = Load("[provider.deepseek]\nbase_url = http://127.0.0.1:9/v1\napi_keys = env:DS\n", new() { ["DS"] = "sk-ds-00000000000001" });
        Assert.That((settings.Demo, settings.Providers.Single().Name), Is.EqualTo((false, "deepseek")));
    }

    [TestCase("[provider.azure]\nkind = azure\nbase_url = https://x.openai.azure.com\napi_keys = env:MISSING_VAR\n", "environment variable MISSING_VAR is not set")]
    [TestCase("[provider.d]\napi_keys = file:/nonexistent/gptws.key\n", "cannot read key file /nonexistent/gptws.key")]
    [TestCase("[provider.d]\nbase_url = https://x/v1\n", "api_keys: needs one or more keys")]
    [TestCase("[provider.d]\nkind = gemini\napi_keys = env:K\n", "kind: must be openai, azure or anthropic, not 'gemini'")]
    [TestCase("[provider.azure]\nkind = azure\napi_keys = env:K\n", "kind azure needs base_url")]
    [TestCase("[provider.d]\napi_version = 2024-10-21\napi_keys = env:K\n", "api_version: only kind azure has one")]
    [TestCase("[provider.d]\napi_keys = env:K\nbase_url = ftp://x\n", "not an http(s) URL")]
    [TestCase("[provider.d]\napi_keys = env:K\nmodels = gpt-4o\n", "models: 'gpt-4o' is not asked=sent")]
    [TestCase("[provider.d]\napi_keys = env:K\nflavour = x\n", "unknown key provider.d.flavour")]
    [TestCase("[provider.Bad Name]\napi_keys = env:K\n", "a provider name is 1 to 40 of a-z")]
    [TestCase("[provider.d]\napi_keys = env:K\n[routes]\ngpt-* = d, nowhere\n", "routes.gpt-*: no provider 'nowhere' (defined: d)")]
    [TestCase("[openai]\napi_key = sk-legacy-00000000001\n[provider.openai]\napi_keys = env:K\n", "provider openai is already defined")]
    [TestCase("[provider.d]\napi_keys = env:EMPTY\n", "env:EMPTY gives an empty key")]
    public void Load_BadProviderConfig_OneLineErrorNamingIt(string ini, string expected)
    {
        var ex = Assert.Throws<ConfigException>(() => Load(ini, new() { ["K"] = "sk-some-key-000000001", ["EMPTY"] = " " }));
        Assert.That(ex!.Message, Does.Contain(expected).And.Not.Contain("\n").And.Not.Contain("sk-some-key"));
    }

    [Test]
    public void Load_ModelSections_OverrideAndExtendTheBuiltInRules()
    {
        var settings = Load("[model.gpt-5*]\nsampling = all\n[model.deepseek-reasoner]\nmax_tokens_param = max_tokens\nsampling = client_only\n[openai]\nallow_extra_body = true\n", []);
        Assert.Multiple(() =>
        {
            Assert.That(ModelRule.For(settings.ModelRules, "gpt-5.1"), Is.EqualTo(new ModelRule("gpt-5*", "max_completion_tokens", false)), "replaces the built-in rule, keeps what it does not set");
            Assert.That(ModelRule.For(settings.ModelRules, "deepseek-reasoner"), Is.EqualTo(new ModelRule("deepseek-reasoner", "max_tokens", true)));
            Assert.That(ModelRule.For(settings.ModelRules, "o3-mini").MaxTokensParam, Is.EqualTo("max_completion_tokens"), "other built-in rules stay");
            Assert.That(ModelRule.For(settings.ModelRules, "gpt-4o"), Is.SameAs(ModelRule.Default));
            Assert.That(settings.AllowExtraBody, Is.True);
        });
    }

    [Test]
    public void Load_ProviderApiResponses()
    {
        var settings = Load("[provider.r]\napi = responses\napi_keys = env:K\n", new() { ["K"] = "sk-r-000000000001" });
        Assert.That(settings.Providers.Single().Api, Is.EqualTo(ProviderApi.Responses));
    }

    [TestCase("[model.x]\nmax_tokens_param = max_output\n", "max_tokens_param: must be max_tokens or max_completion_tokens, not 'max_output'")]
    [TestCase("[model.x]\nsampling = some\n", "sampling: must be all or client_only, not 'some'")]
    [TestCase("[model.x]\ntemperature = 1\n", "unknown key model.x.temperature")]
    [TestCase("[provider.c]\nkind = anthropic\napi = responses\napi_keys = env:K\n", "api: responses is OpenAI's and Azure's API")]
    [TestCase("[provider.c]\napi = graphql\napi_keys = env:K\n", "api: must be chat or responses, not 'graphql'")]
    public void Load_BadModelOrApiConfig_OneLineError(string ini, string expected)
    {
        var ex = Assert.Throws<ConfigException>(() => Load(ini, new() { ["K"] = "sk-some-key-000000001" }));
        Assert.That(ex!.Message, Does.Contain(expected));
    }

    [Test]
    public void Load_ReadmeExample_LoadsAsItSays()
    {
        var readme = File.ReadAllText(GptWsDaemon.Tests.Support.RepoRoot.Combine("README.md"));
        var section = readme[readme.IndexOf("## Providers, routes, key pools and failover", StringComparison.Ordinal)..];
        var start = section.IndexOf("```ini\n", StringComparison.Ordinal) + "```ini\n".Length;
        var ini = section[start..section.IndexOf("```", start, StringComparison.Ordinal)];
        var keyFile = Path.Combine(_dir, "deepseek.key");
        File.WriteAllText(keyFile, "sk-deepseek-0000000000001\n");
        var env = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["OPENAI_API_KEY"] = "sk-openai-00000000000001", ["AZURE_KEY_1"] = "az-1-000000000001", ["AZURE_KEY_2"] = "az-2-000000000002",
            ["ANTHROPIC_KEY_1"] = "sk-ant-00000000001", ["ANTHROPIC_KEY_2"] = "sk-ant-00000000002", ["ANTHROPIC_KEY_3"] = "sk-ant-00000000003",
        };

        var settings = Load(ini.Replace("/etc/gptwsdaemon/deepseek.key", keyFile, StringComparison.Ordinal), env);
        Assert.Multiple(() =>
        {
            Assert.That(settings.Providers.Select(p => p.Name), Does.Contain("openai").And.Contain("azure").And.Contain("deepseek").And.Contain("anthropic"));
            Assert.That(settings.Routes, Is.Not.Empty);
            Assert.That(settings.Routes.SelectMany(r => r.Providers).Distinct(), Is.SubsetOf(settings.Providers.Select(p => p.Name)));
        });
    }

    private DaemonSettings Load(string ini, Dictionary<string, string> env)
    {
        File.WriteAllText(Path.Combine(_dir, "config.ini"), ini.Replace("            ", string.Empty, StringComparison.Ordinal));
        return SettingsLoader.Load(new CliOptions(), env, _dir);
    }
}
