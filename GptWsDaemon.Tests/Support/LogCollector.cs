using System.Collections.Concurrent;
using NLog;
using NLog.Config;
using NLog.Targets;

namespace GptWsDaemon.Tests.Support;

/// <summary>Every line the in-process daemon logs while it lives, at any level: to show a secret is in none of them.</summary>
public sealed class LogCollector : IDisposable
{
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly LoggingConfiguration _config;
    private readonly LoggingRule _rule;

    public LogCollector()
    {
        var target = new MethodCallTarget("collect-" + Guid.NewGuid().ToString("N"), (info, _) => _lines.Enqueue(info.FormattedMessage));
        _config = LogManager.Configuration ?? new LoggingConfiguration();
        _rule = new LoggingRule("*", NLog.LogLevel.Trace, target);
        _config.LoggingRules.Add(_rule);
        LogManager.Configuration = _config;
    }

    public IReadOnlyList<string> Lines => [.. _lines];

    public void Dispose()
    {
        _config.LoggingRules.Remove(_rule);
        LogManager.ReconfigExistingLoggers();
    }
}
