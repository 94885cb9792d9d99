namespace GptWsDaemon.Quotas;

/// <summary>One client's counters now, for /usage.</summary>
/// <param name="RequestsThisMinute">Requests started in this UTC minute.</param>
/// <param name="Concurrent">Streams running.</param>
/// <param name="TokensToday">Tokens charged this UTC day.</param>
public readonly record struct ClientCounters(long RequestsThisMinute, long Concurrent, long TokensToday);
