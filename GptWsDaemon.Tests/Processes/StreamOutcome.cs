namespace GptWsDaemon.Tests.Processes;

/// <summary>How one client's stream ended after its daemon was killed: finished, closed under it, or left hanging.</summary>
internal sealed record StreamOutcome(int Index, bool Closed, bool Hung, TimeSpan After, string? Finish, string? Text, string? Error);
