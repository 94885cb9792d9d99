using System.Net;
using GptWsDaemon.Server;
using GptWsDaemon.Tests.Support;

namespace GptWsDaemon.Tests.Server;

/// <summary>The reflection that reaches HttpListener's socket must keep working on the runtime we ship with.</summary>
[TestFixture]
public sealed class ListenerSocketTuningTests
{
    [Test, CancelAfter(10000)]
    public async Task TrySetNoDelay_OnAnAcceptedContext_ReachesTheSocket(CancellationToken ct)
    {
        var port = DaemonFixture.FreePort();
        using var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        using var http = new HttpClient();
        var request = http.GetAsync(new Uri($"http://127.0.0.1:{port}/"), ct);

        var context = await listener.GetContextAsync().WaitAsync(ct);
        var reached = ListenerSocketTuning.TrySetNoDelay(context);
        context.Response.Close();
        (await request).Dispose();

        Assert.That(reached, Is.True);
    }
}
