using System.Diagnostics;
using NLog;
using NLog.Config;
using NLog.Targets;

namespace GptWsDaemon.Tests.Support;

/// <summary>Completes when the in-process daemon logs a line containing a text: the moment something happened inside it.</summary>
public sealed class LogWatch : IDisposable
{
    private readonly TaskCompletionSource<long> _seen = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private string? _line;
    private readonly LoggingConfiguration _config;
    private readonly LoggingRule _rule;

    public LogWatch(string contains)
    {
        var target = new MethodCallTarget("watch-" + Guid.NewGuid().ToString("N"), (info, _) =>
        {
            if (info.FormattedMessage.Contains(contains, StringComparison.Ordinal) && Interlocked.CompareExchange(ref _line, info.FormattedMessage, null) is null)
            {
                _seen.TrySetResult(Stopwatch.GetTimestamp());
            }
        });
        _config = LogManager.Configuration ?? new LoggingConfiguration();
        _rule = new LoggingRule("*", NLog.LogLevel.Trace, target);
        _config.LoggingRules.Add(_rule);
        LogManager.Configuration = _config;
    }

    /// <summary>The Stopwatch timestamp of the first matching line.</summary>
    public Task<long> Seen => _seen.Task;

    /// <summary>The first matching line, once <see cref="Seen"/> completed.</summary>
    public string? Line => Volatile.Read(ref _line);

    public void Dispose()
    {
        _config.LoggingRules.Remove(_rule);
        LogManager.ReconfigExistingLoggers();
    }
}
