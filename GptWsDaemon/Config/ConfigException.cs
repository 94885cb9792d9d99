namespace GptWsDaemon.Config;

/// <summary>A bad flag, environment variable or ini value; its message is the one line printed at startup.</summary>
public sealed class ConfigException : Exception
{
    /// <summary>Creates the exception with the line to print.</summary>
    public ConfigException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public ConfigException()
    {
    }

    /// <summary>Creates the exception with a cause.</summary>
    public ConfigException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
