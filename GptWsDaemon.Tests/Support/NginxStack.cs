using GptWsDaemon.Tests.Support;

namespace GptWsDaemon.Tests.Support;

/// <summary>Two demo daemon processes with nginx from the shipped <c>deploy/nginx.conf</c> in front of them; disposed together.</summary>
internal sealed class NginxStack : IAsyncDisposable
{
    private NginxStack(DaemonProcess first, DaemonProcess second, NginxProxy nginx)
    {
        First = first;
        Second = second;
        Nginx = nginx;
    }

    /// <summary>The first upstream daemon.</summary>
    public DaemonProcess First { get; }

    /// <summary>The second upstream daemon.</summary>
    public DaemonProcess Second { get; }

    /// <summary>nginx in front of both.</summary>
    public NginxProxy Nginx { get; }

    /// <summary>
    /// Starts two daemons with <c>--demo</c>, <paramref name="args"/> and <paramref name="ini"/>, then nginx in front of them
    /// (<paramref name="directives"/> and <paramref name="errorLogLevel"/> as in <see cref="NginxProxy.Render"/>).
    /// </summary>
    public static async Task<NginxStack> StartAsync(string ini, CancellationToken ct, IReadOnlyList<string>? args = null,
        IReadOnlyDictionary<string, string>? directives = null, string? errorLogLevel = null)
    {
        var (first, second) = await StartPairAsync(ini, ct, args);
        try
        {
            return new NginxStack(first, second, await StartNginxAsync(first, second, ct, directives, errorLogLevel));
        }
        catch
        {
            await first.DisposeAsync();
            await second.DisposeAsync();
            throw;
        }
    }

    /// <summary>Two demo daemons started side by side; if one fails, the other is not left running.</summary>
    public static async Task<(DaemonProcess First, DaemonProcess Second)> StartPairAsync(string ini, CancellationToken ct, IReadOnlyList<string>? args = null)
    {
        string[] argv = ["--demo", .. args ?? []];
        Task<DaemonProcess>[] starting = [DaemonProcess.StartAsync(argv, ct, ini: ini), DaemonProcess.StartAsync(argv, ct, ini: ini)];
        try
        {
            await Task.WhenAll(starting);
        }
        catch
        {
            foreach (var started in starting.Where(t => t.IsCompletedSuccessfully))
            {
                await (await started).DisposeAsync();
            }

            throw;
        }

        return (await starting[0], await starting[1]);
    }

    /// <summary>nginx from the shipped deploy/nginx.conf in front of these two daemons.</summary>
    public static Task<NginxProxy> StartNginxAsync(DaemonProcess first, DaemonProcess second, CancellationToken ct,
        IReadOnlyDictionary<string, string>? directives = null, string? errorLogLevel = null)
    {
        int[] backends = [first.Port!.Value, second.Port!.Value];
        var shipped = Path.Combine(RepoRoot.Path, "deploy", "nginx.conf");
        return NginxProxy.StartAsync(shipped, backends, FreePortOtherThan(backends), ct, directives, errorLogLevel);
    }

    /// <summary>Describes nginx and both daemons, for failure messages.</summary>
    public string Describe() => $"{Nginx.Describe()}\n{First.Describe()}\n{Second.Describe()}";

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await Nginx.DisposeAsync();
        await First.DisposeAsync();
        await Second.DisposeAsync();
    }

    private static int FreePortOtherThan(int[] taken)
    {
        while (true)
        {
            var port = DaemonFixture.FreePort();
            if (!taken.Contains(port))
            {
                return port;
            }
        }
    }
}
