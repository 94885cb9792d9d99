using NLog;

namespace GptWsDaemon.Observability;

/// <summary>Loads NLog.config from beside the binary and applies the configured minimum level.</summary>
public static class LoggingSetup
{
    /// <summary>Configures NLog; <paramref name="level"/> is a level name already validated.</summary>
    public static void Configure(string level)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "NLog.config");
        if (File.Exists(path))
        {
            LogManager.Setup().LoadConfigurationFromFile(path);
        }

        var minimum = LogLevel.FromString(level);
        var config = LogManager.Configuration;
        if (config is null)
        {
            return;
        }

        foreach (var rule in config.LoggingRules)
        {
            if (rule.LoggerNamePattern == "*")
            {
                rule.SetLoggingLevels(minimum, LogLevel.Fatal);
            }
        }

        LogManager.ReconfigExistingLoggers();
    }
}
