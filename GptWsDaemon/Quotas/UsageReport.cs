using System.Text.Encodings.Web;
using System.Text.Json;

namespace GptWsDaemon.Quotas;

/// <summary>
/// GET /usage (protocol.md §8 "/usage"): per configured client, requests this minute and tokens today, the running
/// streams, its limits and what remains of them — names only, never a token.
/// </summary>
internal static class UsageReport
{
    public static async Task<byte[]> WriteAsync(QuotaGate? gate, IEnumerable<string> clients, CancellationToken cancellationToken)
    {
        var now = gate?.Now ?? DateTimeOffset.UtcNow;
        using var buffer = new MemoryStream();
        await using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("store"u8, gate?.Store.Name ?? "none");
            w.WriteString("minute"u8, now.UtcDateTime.ToString("yyyy-MM-ddTHH:mmZ", System.Globalization.CultureInfo.InvariantCulture));
            w.WriteString("day"u8, now.UtcDateTime.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture));
            w.WriteStartArray("clients"u8);
            foreach (var client in clients.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
            {
                var counters = gate is null ? default : await gate.Store.ReadAsync(client, now, cancellationToken).ConfigureAwait(false);
                var limits = gate?.LimitsFor(client) ?? QuotaLimits.None;
                w.WriteStartObject();
                w.WriteString("name"u8, client);
                w.WriteNumber("requests_this_minute"u8, counters.RequestsThisMinute);
                w.WriteNumber("streams"u8, counters.Concurrent);
                w.WriteNumber("tokens_today"u8, counters.TokensToday);
                w.WriteStartObject("limits"u8);
                Limit(w, "requests_per_minute", limits.RequestsPerMinute);
                Limit(w, "concurrent_streams", limits.ConcurrentStreams);
                Limit(w, "tokens_per_day", limits.TokensPerDay);
                Limit(w, "max_output_tokens", limits.MaxOutputTokens);
                w.WriteEndObject();
                w.WriteStartObject("remaining"u8);
                Limit(w, "requests_this_minute", limits.RequestsPerMinute - counters.RequestsThisMinute);
                Limit(w, "streams", limits.ConcurrentStreams - counters.Concurrent);
                Limit(w, "tokens_today", limits.TokensPerDay - counters.TokensToday);
                w.WriteEndObject();
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private static void Limit(Utf8JsonWriter w, string name, long? value)
    {
        if (value is { } v)
        {
            w.WriteNumber(name, Math.Max(0, v));
        }
        else
        {
            w.WriteNull(name);
        }
    }
}
