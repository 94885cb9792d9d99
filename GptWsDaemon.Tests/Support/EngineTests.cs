using GptWsDaemon.Config;
using GptWsDaemon.Server.Engines;

namespace GptWsDaemon.Tests.Support;

/// <summary>Base of the end-to-end fixtures that run once per engine: their daemons start with <see cref="Engine"/>.</summary>
public abstract class EngineTests(EngineKind engine)
{
    /// <summary>Both engines, for <c>[TestFixtureSource]</c>.</summary>
    public static readonly EngineKind[] Engines = [EngineKind.HttpListener, EngineKind.Kestrel];

    /// <summary>The engine this fixture instance runs against.</summary>
    protected EngineKind Engine { get; } = engine;

    /// <summary><see cref="DaemonFixture.StartAsync"/> on this fixture's engine.</summary>
    protected Task<DaemonFixture> StartDaemonAsync(FakeOpenAiServer upstream, Func<DaemonSettings, DaemonSettings>? configure = null) =>
        DaemonFixture.StartAsync(upstream, s => (configure ?? (x => x))(s with { Engine = Engine }));

    /// <summary><see cref="DaemonFixture.StartDemoAsync"/> on this fixture's engine.</summary>
    protected Task<DaemonFixture> StartDemoDaemonAsync(Func<DaemonSettings, DaemonSettings>? configure = null) =>
        DaemonFixture.StartDemoAsync(s => (configure ?? (x => x))(s with { Engine = Engine }));
}
