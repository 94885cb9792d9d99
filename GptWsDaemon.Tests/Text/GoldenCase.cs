namespace GptWsDaemon.Tests.Text;

/// <summary>One Golden Rule: a text and the sentences it must be cut into.</summary>
public sealed record GoldenCase(string Text, IReadOnlyList<string> Sentences);
