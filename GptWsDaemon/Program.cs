using System.Runtime.InteropServices;
using CommandLine;
using CommandLine.Text;
using GptWsDaemon.Config;
using GptWsDaemon.Observability;
using GptWsDaemon.Server;
using GptWsDaemon.Server.Engines;
using GptWsDaemon.Upstream;
using NLog;

namespace GptWsDaemon;

/// <summary>Entry point: flags → settings → logging → server, then waits for SIGTERM/SIGINT.</summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        SocketEngineTuning.PreferInlineCompletions();
        using var parser = new Parser(s =>
        {
            s.HelpWriter = null;
            s.AllowMultiInstance = true;
            s.CaseInsensitiveEnumValues = true;
        });
        var parsed = parser.ParseArguments<CliOptions>(args);
        if (parsed is NotParsed<CliOptions> notParsed)
        {
            if (notParsed.Errors.Any(e => e is HelpRequestedError or VersionRequestedError))
            {
                Console.Out.WriteLine(HelpText.AutoBuild(parsed, h =>
                {
                    h.Heading = "GptWsDaemon — streams OpenAI chat answers over one WebSocket";
                    h.Copyright = "usage: ./run.sh [flags]   (precedence: flag > environment > ini > default)";
                    h.AddDashesToOption = true;
                    return h;
                }, e => e));
                return 0;
            }

            var first = notParsed.Errors.First();
            await Console.Error.WriteLineAsync("gptwsdaemon: " + SentenceBuilder.Create().FormatError(first) + " (see --help)").ConfigureAwait(false);
            return 2;
        }

        DaemonSettings settings;
        try
        {
            settings = SettingsLoader.Load(parsed.Value, SettingsLoader.ProcessEnvironment(), Environment.CurrentDirectory);
        }
        catch (ConfigException e)
        {
            await Console.Error.WriteLineAsync("gptwsdaemon: " + e.Message).ConfigureAwait(false);
            return 2;
        }

        LoggingSetup.Configure(settings.LogLevel);
        var log = LogManager.GetLogger("GptWsDaemon");
        try
        {
            return await RunAsync(settings, log).ConfigureAwait(false);
        }
        finally
        {
            LogManager.Shutdown();
        }
    }

    private static async Task<int> RunAsync(DaemonSettings settings, Logger log)
    {
        var (limit, open) = DescriptorBudget.ReadProcess();
        var fit = DescriptorBudget.Compute(settings, limit, open);
        settings = settings with { MaxConnections = fit.MaxConnections, MaxStreams = fit.MaxStreams };
        log.Info("descriptors: limit {0}, {1} open; up to {2} connections and {3} streams", fit.Limit?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown", fit.Open, fit.MaxConnections, fit.MaxStreams);
        if (fit.Warning is not null)
        {
            log.Warn(fit.Warning);
        }

        var metrics = new DaemonMetrics();
        var redactor = new SecretRedactor([.. settings.Providers.SelectMany(p => p.ApiKeys), .. settings.ResolveTokens().Select(t => t.Token), .. settings.AdminTokens]);
        using var providers = settings.Demo ? null : new ProviderStreams(settings, redactor, metrics);
        IChatUpstream upstream = providers is null ? new DemoUpstream(settings.DemoTokenDelay) : providers;
        await using var redis = settings.RedisUrl is { } url && (settings.Quota.Any || settings.AdminTokens.Count > 0)
            ? await Quotas.RedisQuotaStore.ConnectAsync(url, settings.MaxStreamDuration).ConfigureAwait(false)
            : null;
        var quota = redis is null ? null : new Quotas.QuotaGate(settings.Quota, redis, metrics);
        // protocol.md §4.5: with [redis] the resumable logs live there, shared by every instance.
        await using var resumeStore = settings.RedisUrl is { } resumeUrl
            ? await Streams.RedisStreamStore.ConnectAsync(resumeUrl, settings.Resume, settings.MaxStreamDuration, metrics).ConfigureAwait(false)
            : null;
        var resumables = new Streams.StreamRegistry(settings.Resume, metrics, resumeStore);
        await using var server = new DaemonServer(settings, upstream, metrics, quota, resumables);
        try
        {
            await server.StartAsync().ConfigureAwait(false);
        }
        catch (EngineBindException e)
        {
            await Console.Error.WriteLineAsync($"gptwsdaemon: cannot listen on {settings.Host}:{settings.Port}: {e.Message}").ConfigureAwait(false);
            return 1;
        }

        log.Info("GptWsDaemon listening on {0} (WebSocket on / and /ws, test page on /, /healthz, /metrics), engine {1}", server.Url, settings.Engine.ToString().ToLowerInvariant());
        // The collector is the project's choice (GptWsDaemon.csproj) unless DOTNET_gcServer / DOTNET_gcConcurrent override it.
        var gc = GC.GetConfigurationVariables();
        log.Info("garbage collector: {0}, {1} heap(s){2}", System.Runtime.GCSettings.IsServerGC ? "server" : "workstation", gc.GetValueOrDefault("HeapCount") ?? 1, gc.GetValueOrDefault("ConcurrentGC") is true ? ", background gen2" : string.Empty);
        if (settings.Demo)
        {
            log.Warn("DEMO MODE: no API key set (or --demo): answers come from the embedded offline model, not OpenAI");
        }
        else
        {
            foreach (var p in providers!.Providers)
            {
                log.Info("provider {0}: {1} at {2}, keys {3}", p.Name, p.Settings.Kind.ToString().ToLowerInvariant(), p.Settings.BaseUrl, string.Join(", ", p.Keys.Keys));
            }

            foreach (var section in settings.LiteralKeyProviders)
            {
                log.Warn("[{0}] api_keys holds a key in the ini itself: prefer env:NAME or file:/path, kept out of the file", section);
            }
        }

        if (server.Quota is { } gate)
        {
            log.Info("quotas: counters in {0}{1}", gate.Store.Name, settings.Quota.Any ? string.Empty : " (no limits set; /usage only)");
        }

        if (!server.Guard.HasTokens && !settings.IsLoopback)
        {
            log.Warn("SECURITY: bound to {0} with no access tokens: anyone who can reach this port can spend your API quota. Set --access-token.", settings.Host);
        }

        if (settings.Engine == EngineKind.HttpListener && !settings.IsLoopback)
        {
            log.Warn("SECURITY: engine httplistener on {0} is not hardened against hostile sockets (no head timeout, unbounded request lines, no descriptor guard). Exposed ports: use --engine kestrel, or put nginx in front (deploy/nginx.conf).", settings.Host);
        }

        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var signals = 0;
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            if (Interlocked.Increment(ref signals) == 1)
            {
                log.Info("{0} received: draining (send it again to exit at once)", context.Signal);
                stop.TrySetResult();
            }
            else
            {
                log.Warn("second signal: exiting now");
                LogManager.Shutdown();
                Environment.Exit(0);
            }
        }

        void OnReload(PosixSignalContext context)
        {
            context.Cancel = true;
            if (settings.AccessTokensFile is null)
            {
                log.Info("SIGHUP: nothing to reload (no server.access_tokens_file)");
                return;
            }

            try
            {
                var tokens = settings.ResolveTokens();
                server.Guard.Replace(tokens);
                log.Info("SIGHUP: {0} access tokens from {1} ({2}); open connections keep theirs", tokens.Count, settings.AccessTokensFile, string.Join(", ", tokens.Select(t => t.Name)));
            }
            catch (ConfigException e)
            {
                log.Error("SIGHUP: {0}; the tokens in use stay", e.Message);
            }
        }

        using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, OnReload);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        await stop.Task.ConfigureAwait(false);
        await server.StopAsync(settings.ShutdownGrace).ConfigureAwait(false);
        log.Info("stopped");
        return 0;
    }
}
