using System.Globalization;
using GptWsDaemon.Config;

namespace GptWsDaemon.Server;

/// <summary>
/// Fits the connection and stream caps to the file descriptors the process really has: each connection costs one, each
/// stream up to two more on the upstream side (a socket, and one being replaced), and the runtime, logs and listener
/// hold their own. Read at startup from /proc (Linux); elsewhere the caps are left as configured.
/// </summary>
public static class DescriptorBudget
{
    /// <summary>Descriptors kept free for logs, DNS, the listener and sockets closing (and plain HTTP beyond the WebSockets).</summary>
    public const int Reserve = 64;

    /// <summary>Sockets Kestrel may hold beyond <c>max_connections</c>: plain HTTP (/healthz) and handshakes in progress.</summary>
    public const int HttpSlack = 32;

    /// <summary>What the budget found and decided, for the startup log.</summary>
    public sealed record Fit(long? Limit, int Open, int MaxConnections, int MaxStreams, string? Warning);

    /// <summary>The caps for these settings with <paramref name="limit"/> descriptors of which <paramref name="open"/> are in use.</summary>
    public static Fit Compute(DaemonSettings settings, long? limit, int open)
    {
        if (limit is not { } hard)
        {
            return new Fit(null, open, settings.MaxConnections, settings.MaxStreams, null);
        }

        var available = hard - open - Reserve - HttpSlack;
        if (settings.MaxConnections + (2L * settings.MaxStreams) <= available)
        {
            return new Fit(hard, open, settings.MaxConnections, settings.MaxStreams, null);
        }

        // Share what is left: a quarter of it streams (two descriptors each), the rest connections; never below one.
        var streams = (int)Math.Clamp(Math.Min(settings.MaxStreams, available / 4), 1, int.MaxValue);
        var connections = (int)Math.Clamp(Math.Min(settings.MaxConnections, available - (2L * streams)), 1, int.MaxValue);
        var warning = string.Create(CultureInfo.InvariantCulture,
            $"the descriptor limit ({hard}, {open} in use) cannot hold limits.max_connections = {settings.MaxConnections} and max_streams = {settings.MaxStreams}: lowered to {connections} and {streams}; raise it with ulimit -n or LimitNOFILE=");
        return new Fit(hard, open, connections, streams, warning);
    }

    /// <summary>Reads this process's soft descriptor limit and open descriptors; null limit when they cannot be read.</summary>
    public static (long? Limit, int Open) ReadProcess()
    {
        try
        {
            long? limit = null;
            foreach (var line in File.ReadLines("/proc/self/limits"))
            {
                // "Max open files            1024                 524288               files"
                if (line.StartsWith("Max open files", StringComparison.Ordinal))
                {
                    var fields = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    limit = fields.Length > 0 && long.TryParse(fields[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var soft) ? soft : null;
                }
            }

            return (limit, Directory.GetFileSystemEntries("/proc/self/fd").Length);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return (null, 0);
        }
    }

    /// <summary>Kestrel's accept gate: every WebSocket plus room for plain HTTP and handshakes.</summary>
    public static int AcceptSlots(DaemonSettings settings) => settings.MaxConnections + HttpSlack;
}
