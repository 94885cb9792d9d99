namespace GptWsDaemon.Tests.Text;

/// <summary>A corpus file of Golden Rules, with the public source it was taken from.</summary>
public sealed record GoldenCorpus(string Source, IReadOnlyList<GoldenCase> Cases);
