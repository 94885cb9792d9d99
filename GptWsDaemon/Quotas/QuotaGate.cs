using GptWsDaemon.Observability;
using NLog;

namespace GptWsDaemon.Quotas;

/// <summary>
/// Who may spend how much (protocol.md §2.3 "Quotas"): before a request reaches the upstream the gate asks the store
/// whether the client's limits allow it (one call), and when the stream ends it charges the tokens (one call). A store
/// that fails lets requests pass or refuses them per <c>quota.on_store_error</c>, logged (at most once per 10 s) and
/// counted.
/// </summary>
public sealed class QuotaGate
{
    private static readonly Logger Log = LogManager.GetLogger("GptWsDaemon.Quotas");
    private readonly QuotaSettings _settings;
    private readonly DaemonMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly LogThrottle _errors = new(1, TimeSpan.FromSeconds(10));

    /// <summary>Creates the gate over <paramref name="store"/>.</summary>
    public QuotaGate(QuotaSettings settings, IQuotaStore store, DaemonMetrics metrics, TimeProvider? time = null)
    {
        _settings = settings;
        Store = store;
        _metrics = metrics;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The gate's clock now (windows and days are the gate's).</summary>
    public DateTimeOffset Now => _time.GetUtcNow();

    /// <summary>The counters' home.</summary>
    public IQuotaStore Store { get; }

    /// <summary>The limits of <paramref name="client"/>.</summary>
    public QuotaLimits LimitsFor(string client) => _settings.For(client);

    /// <summary>Admits a request of <paramref name="client"/> (<paramref name="label"/>: its metric label), or says which limit refuses it.</summary>
    public async ValueTask<Admission> AdmitAsync(string client, string label, CancellationToken cancellationToken)
    {
        var limits = _settings.For(client);
        try
        {
            var admission = await Store.AdmitAsync(client, limits, _time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
            if (!admission.IsAllowed)
            {
                _metrics.CountQuotaRejection(label, admission.Limit!);
            }

            return admission;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            StoreFailed(e);
            if (_settings.OpenOnStoreError)
            {
                return Admission.Allowed with { Uncounted = true };
            }

            _metrics.CountQuotaRejection(label, "store_unavailable");
            return new Admission("store_unavailable", 0, 5);
        }
    }

    /// <summary>Charges <paramref name="tokens"/> and gives the running slot back (when <paramref name="admission"/> took one).</summary>
    public async ValueTask SettleAsync(string client, Admission admission, long tokens)
    {
        try
        {
            await Store.SettleAsync(client, admission.IsAllowed && !admission.Uncounted, tokens, _time.GetUtcNow(), CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            StoreFailed(e);
        }
    }

    private void StoreFailed(Exception e)
    {
        _metrics.CountQuotaStoreError();
        if (_errors.TryWrite(out var suppressed))
        {
            Log.Warn("quota store {0} failed ({1}: {2}); requests {3} while it does{4}", Store.Name, e.GetType().Name, e.Message, _settings.OpenOnStoreError ? "pass" : "are refused", suppressed > 0 ? $" ({suppressed} more failures not logged)" : string.Empty);
        }
    }
}
