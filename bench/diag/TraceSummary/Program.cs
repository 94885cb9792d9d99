using System.Globalization;
using Microsoft.Diagnostics.Tracing;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

// Usage: TraceSummary FILE.nettrace   (a trace taken with the GC keyword at verbose level, see bench/diag/gc-trace.sh)
// Prints what allocates (from GCAllocationTick, one sample per ~100 KB) and every GC's pause split into the time to
// suspend the threads and the rest.
if (args.Length != 1)
{
    Console.Error.WriteLine("usage: TraceSummary FILE.nettrace");
    return 2;
}

var bytesByType = new Dictionary<string, long>(StringComparer.Ordinal);
long sampled = 0;
double? suspendStart = null, suspendEnd = null;
int? generation = null;
var pauses = new List<(double At, int Gen, double SuspendMs, double PauseMs, double WorkMs, string Heap)>();
double? gcStart = null, gcEnd = null;
var heap = string.Empty;
double first = double.NaN, last = 0;

using (var source = new EventPipeEventSource(args[0]))
{
    source.Clr.GCAllocationTick += e =>
    {
        var name = string.IsNullOrEmpty(e.TypeName) ? "?" : e.TypeName;
        bytesByType[name] = bytesByType.GetValueOrDefault(name) + e.AllocationAmount64;
        sampled += e.AllocationAmount64;
        Seen(e.TimeStampRelativeMSec);
    };
    source.Clr.GCSuspendEEStart += e => { suspendStart = e.TimeStampRelativeMSec; suspendEnd = null; generation = null; };
    source.Clr.GCSuspendEEStop += e => suspendEnd = e.TimeStampRelativeMSec;
    source.Clr.GCStart += e => { generation = e.Depth; gcStart = e.TimeStampRelativeMSec; };
    source.Clr.GCStop += e => gcEnd = e.TimeStampRelativeMSec;
    source.Clr.GCHeapStats += e => heap = string.Create(CultureInfo.InvariantCulture,
        $"promoted {e.TotalPromotedSize0 / 1e6:0.00}/{e.TotalPromotedSize1 / 1e6:0.00} MB, gen0 {e.GenerationSize0 / 1e6:0.0} gen1 {e.GenerationSize1 / 1e6:0.0} gen2 {e.GenerationSize2 / 1e6:0.0} MB, pinned {e.PinnedObjectCount}, handles {e.GCHandleCount}");
    source.Clr.GCRestartEEStop += e =>
    {
        if (suspendStart is { } s && generation is { } g)
        {
            pauses.Add((s, g, ((suspendEnd ?? s) - s), e.TimeStampRelativeMSec - s, (gcEnd ?? s) - (gcStart ?? s), heap));
        }

        suspendStart = null;
    };
    source.Process();
}

var seconds = (last - first) / 1000;
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"allocation samples over {seconds:0.0} s: {sampled / 1e6:0.0} MB sampled ({sampled / 1e6 / Math.Max(seconds, 1e-9):0.0} MB/s)"));
foreach (var (type, bytes) in bytesByType.OrderByDescending(p => p.Value).Take(25))
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {100.0 * bytes / Math.Max(sampled, 1),5:0.0} %  {type}"));
}

Console.WriteLine($"GCs with a pause: {pauses.Count}");
foreach (var group in pauses.GroupBy(p => p.Gen).OrderBy(g => g.Key))
{
    var pause = group.Select(p => p.PauseMs).Order().ToList();
    var suspend = group.Select(p => p.SuspendMs).Order().ToList();
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"  gen{group.Key}: {pause.Count} GCs, pause ms p50 {pause[pause.Count / 2]:0.00} max {pause[^1]:0.00}; of which suspending threads p50 {suspend[suspend.Count / 2]:0.00} max {suspend[^1]:0.00}"));
}

foreach (var p in pauses)
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"    at {p.At / 1000,7:0.000} s gen{p.Gen} pause {p.PauseMs,6:0.00} ms (suspend {p.SuspendMs:0.00}, GCStart→GCEnd {p.WorkMs:0.00}); {p.Heap}"));
}

return 0;

void Seen(double at)
{
    if (double.IsNaN(first))
    {
        first = at;
    }

    last = at;
}
