using System.Text;
using GptWsDaemon.Observability;
using GptWsDaemon.Protocol;
using GptWsDaemon.Server;

namespace GptWsDaemon.Quotas;

/// <summary>
/// One stream's bill (protocol.md §2.3 "Quotas", §5.2 <c>usage.estimated</c>): admitted by the gate before the
/// upstream is called, the text relayed kept so that a stream the provider never sent usage for (cancelled, cut, a
/// provider without it) can be counted, and settled with the client when it ends.
/// </summary>
internal sealed class StreamAccount
{
    private readonly QuotaGate _gate;
    private readonly ClientIdentity _client;
    private readonly string _model;
    private readonly int _prompt;
    private readonly StringBuilder _answer = new();

    private StreamAccount(QuotaGate gate, ClientIdentity client, string model, int prompt, Admission admission)
    {
        _gate = gate;
        _client = client;
        _model = model;
        _prompt = prompt;
        Admission = admission;
    }

    /// <summary>The gate's answer.</summary>
    public Admission Admission { get; }

    /// <summary>The client's output cap, if its limits set one.</summary>
    public int? MaxOutputTokens => _gate.LimitsFor(_client.Name).MaxOutputTokens;

    /// <summary>Asks the gate; counts the prompt only once admitted (the text goes after the upstream call).</summary>
    public static async ValueTask<StreamAccount> OpenAsync(QuotaGate gate, ClientIdentity client, ChatRequest request, CancellationToken cancellationToken)
    {
        var admission = await gate.AdmitAsync(client.Name, client.Label, cancellationToken).ConfigureAwait(false);
        return new StreamAccount(gate, client, request.UpstreamModel, admission.IsAllowed ? UsageEstimator.Prompt(request) : 0, admission);
    }

    /// <summary>The 1009 message of a refusal.</summary>
    public string RefusalMessage() =>
        Admission.Limit == "store_unavailable"
            ? $"quota exceeded: the quota store is unavailable and quota.on_store_error is closed; retry in {Admission.RetryAfter} s"
            : $"quota exceeded: {Admission.Limit} ({Admission.Value}) of client {_client.Name}; retry in {Admission.RetryAfter} s";

    /// <summary>Text relayed to the client.</summary>
    public void Relayed(ReadOnlySpan<char> text) => _answer.Append(text);

    /// <summary>The provider's usage, or the tokenizer's count of what was asked and relayed, marked estimated.</summary>
    public UsageInfo Usage(UsageInfo? reported) =>
        reported ?? new UsageInfo(_prompt, UsageEstimator.Count(_model, _answer.ToString())) { Estimated = true };

    /// <summary>Charges <paramref name="usage"/> and gives the running slot back.</summary>
    public ValueTask SettleAsync(UsageInfo usage, DaemonMetrics metrics)
    {
        metrics.CountClientTokens(_client.Label, usage.PromptTokens, usage.CompletionTokens);
        return _gate.SettleAsync(_client.Name, Admission, usage.PromptTokens + usage.CompletionTokens);
    }
}
