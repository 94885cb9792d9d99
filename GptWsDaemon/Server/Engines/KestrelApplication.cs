using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http.Features;

namespace GptWsDaemon.Server.Engines;

/// <summary>Kestrel's request callback: the raw feature collection, wrapped as an <see cref="IHttpExchange"/> (no HttpContext).</summary>
internal sealed class KestrelApplication(Func<IHttpExchange, Task> handler) : IHttpApplication<IFeatureCollection>
{
    public IFeatureCollection CreateContext(IFeatureCollection contextFeatures) => contextFeatures;

    public Task ProcessRequestAsync(IFeatureCollection context) => handler(new KestrelExchange(context));

    public void DisposeContext(IFeatureCollection context, Exception? exception)
    {
    }
}
