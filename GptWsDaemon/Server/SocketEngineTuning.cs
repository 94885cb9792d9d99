namespace GptWsDaemon.Server;

/// <summary>
/// Runs socket completions inline on the runtime's epoll threads (one per core) instead of handing each one to the
/// thread pool. Every relayed token is one upstream read completion followed by one client send; inline, that is one
/// thread instead of two wake-ups and a context switch (the CPU and p99 gain: bench/RESULTS.md). Safe here because
/// nothing the daemon runs on a completion blocks:
/// parsing and framing take microseconds, sends use the non-blocking path, logging is asynchronous.
/// </summary>
/// <remarks>
/// The runtime reads <see cref="Variable"/> once, when the first socket is created, so this must run first thing in
/// <c>Main</c>. An operator's own value (e.g. <c>0</c> to go back to thread-pool dispatch) is kept.
/// </remarks>
internal static class SocketEngineTuning
{
    /// <summary>The runtime's switch (System.Net.Sockets, Unix only; "1" means inline).</summary>
    public const string Variable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>The value to set, or null to leave the environment as it is (the operator chose).</summary>
    public static string? ValueToSet(string? current) => string.IsNullOrEmpty(current) ? "1" : null;

    /// <summary>True when socket completions run inline in this process (the switch is "1").</summary>
    public static bool IsInline => Environment.GetEnvironmentVariable(Variable) == "1";

    /// <summary>Sets the switch in this process unless the operator set it.</summary>
    public static void PreferInlineCompletions()
    {
        if (ValueToSet(Environment.GetEnvironmentVariable(Variable)) is { } value)
        {
            Environment.SetEnvironmentVariable(Variable, value);
        }
    }
}
