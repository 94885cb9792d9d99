using GptWsDaemon.Protocol;
using Microsoft.ML.Tokenizers;

namespace GptWsDaemon.Quotas;

/// <summary>
/// Counts tokens when the provider does not say (protocol.md §5.2 <c>usage.estimated</c>): a stream cancelled or cut,
/// a provider that sends no usage. Tiktoken's o200k_base for OpenAI's newer families (gpt-4o, gpt-4.1, gpt-5, o1, o3,
/// o4, chatgpt-4o), cl100k_base for the rest; the vocabularies come from their NuGet data packages, offline. A chat
/// prompt costs its messages' tokens plus OpenAI's framing: 3 per message and 3 to prime the reply.
/// </summary>
public static class UsageEstimator
{
    private static readonly Lazy<Tokenizer> O200k = new(() => TiktokenTokenizer.CreateForEncoding("o200k_base"));
    private static readonly Lazy<Tokenizer> Cl100k = new(() => TiktokenTokenizer.CreateForEncoding("cl100k_base"));

    /// <summary>The tokenizer of <paramref name="model"/>'s family.</summary>
    public static Tokenizer For(string model) =>
        model.StartsWith("gpt-4o", StringComparison.Ordinal) || model.StartsWith("gpt-4.1", StringComparison.Ordinal) || model.StartsWith("gpt-5", StringComparison.Ordinal)
        || model.StartsWith("o1", StringComparison.Ordinal) || model.StartsWith("o3", StringComparison.Ordinal) || model.StartsWith("o4", StringComparison.Ordinal)
        || model.StartsWith("chatgpt-4o", StringComparison.Ordinal)
            ? O200k.Value
            : Cl100k.Value;

    /// <summary>The prompt's tokens.</summary>
    public static int Prompt(ChatRequest request)
    {
        var tokenizer = For(request.UpstreamModel);
        var count = 3;
        foreach (var m in request.Messages)
        {
            count += 3 + tokenizer.CountTokens(m.Content);
        }

        return count;
    }

    /// <summary>The tokens of <paramref name="text"/> as <paramref name="model"/> counts them.</summary>
    public static int Count(string model, string text) => text.Length == 0 ? 0 : For(model).CountTokens(text);
}
