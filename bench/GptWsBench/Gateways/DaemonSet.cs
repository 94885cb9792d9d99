namespace GptWsBench.Gateways;

/// <summary>The daemons of one run, one per HTTP engine, each its own process; all killed together at the end.</summary>
public sealed class DaemonSet : IAsyncDisposable
{
    private readonly List<(string Engine, GatewayProcess Process)> _daemons = [];

    /// <summary>The daemons in the order they were added (the order of <c>--engines</c>).</summary>
    public IReadOnlyList<(string Engine, GatewayProcess Process)> Daemons => _daemons;

    /// <summary>Takes ownership of <paramref name="daemon"/>, the daemon running <paramref name="engine"/>, and returns it.</summary>
    public GatewayProcess Add(string engine, GatewayProcess daemon)
    {
        _daemons.Add((engine, daemon));
        return daemon;
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync()
    {
        foreach (var (_, daemon) in _daemons)
        {
            daemon.Dispose();
        }

        _daemons.Clear();
        return ValueTask.CompletedTask;
    }
}
