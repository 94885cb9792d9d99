using Microsoft.Extensions.Logging;
using NLog;
using ILogger = Microsoft.Extensions.Logging.ILogger;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace GptWsDaemon.Observability;

/// <summary>
/// Kestrel's own log, into the daemon's: warnings and errors only (its debug lines describe every bad request a
/// hostile client sends, which is what the rate-limited refusal lines are for), text escaped like any client value.
/// </summary>
public sealed class KestrelLogBridge : ILoggerFactory, ILoggerProvider
{
    private static readonly Logger Log = LogManager.GetLogger("GptWsDaemon.Kestrel");

    /// <inheritdoc/>
    public ILogger CreateLogger(string categoryName) => Bridge.Instance;

    /// <inheritdoc/>
    public void AddProvider(ILoggerProvider provider)
    {
    }

    /// <inheritdoc/>
    public void Dispose()
    {
    }

    private sealed class Bridge : ILogger
    {
        public static readonly Bridge Instance = new();

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            var text = LogText.Client(formatter(state, exception), 500);
            var reason = exception is null ? string.Empty : " (" + LogText.Client(exception.GetType().Name + ": " + exception.Message, 300) + ")";
            KestrelLogBridge.Log.Log(logLevel >= LogLevel.Error ? NLog.LogLevel.Error : NLog.LogLevel.Warn, "{0}{1}", text, reason);
        }
    }
}
