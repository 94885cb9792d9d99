using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using GptWsDaemon.Protocol;

namespace GptWsDaemon.Upstream;

/// <summary>
/// The embedded offline model: streams a deterministic answer (the question echoed, then a fixed Chinese and English
/// paragraph) token by token with a small delay, so that a fresh <c>./run.sh</c> works with no key and no network.
/// </summary>
public sealed class DemoUpstream : IChatUpstream
{
    private const string Paragraph =
        "这是 GptWsDaemon 的离线演示模型，没有连接任何真实的 API。杭州有西湖、灵隐寺和龙井村，春天的苏堤尤其美丽！" +
        "This is the offline demo model of GptWsDaemon: it streams a fixed answer, token by token. " +
        "Set an API key with --api-key or OPENAI_API_KEY to talk to a real model. Have a nice day!";

    private readonly TimeSpan _tokenDelay;

    /// <summary>Creates the demo model with a delay between tokens.</summary>
    public DemoUpstream(TimeSpan tokenDelay) => _tokenDelay = tokenDelay;

    /// <inheritdoc/>
    public string Name => "demo";

    /// <summary>The whole answer the demo gives to <paramref name="request"/>.</summary>
    public static string AnswerFor(ChatRequest request)
    {
        var question = request.IsCompletions ? request.Prompt : LastUserMessage(request);
        return $"你问的是：「{question.Trim()}」。{Paragraph}";
    }

    /// <summary>Cuts text into tokens the way a model streams: a CJK character alone, a word with its leading space, punctuation alone.</summary>
    public static List<string> Tokenize(string text)
    {
        var tokens = new List<string>();
        var i = 0;
        while (i < text.Length)
        {
            var start = i;
            if (text[i] == ' ')
            {
                i++;
            }

            if (i < text.Length && char.IsAsciiLetterOrDigit(text[i]))
            {
                while (i < text.Length && (char.IsAsciiLetterOrDigit(text[i]) || text[i] is '-' or '\''))
                {
                    i++;
                }
            }
            else if (i < text.Length)
            {
                i += char.IsHighSurrogate(text[i]) && i + 1 < text.Length ? 2 : 1;
            }

            tokens.Add(text[start..i]);
        }

        return tokens;
    }

    /// <inheritdoc/>
    public async IAsyncEnumerable<UpstreamChunk> StreamAsync(ChatRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var tokens = Tokenize(AnswerFor(request));
        var limit = request.OpenAiParameter ? int.MaxValue : request.Parameters.MaxTokens;
        var sent = 0;
        foreach (var token in tokens)
        {
            if (sent == limit)
            {
                break;
            }

            await Task.Delay(_tokenDelay, cancellationToken).ConfigureAwait(false);
            sent++;
            yield return new UpstreamChunk(token.AsMemory(), null, null);
        }

        var promptTokens = Tokenize(request.IsCompletions ? request.Prompt : string.Concat(request.Messages.Select(m => m.Content))).Count;
        yield return new UpstreamChunk(default, sent < tokens.Count ? "length" : "stop", new UsageInfo(promptTokens, sent));
    }

    private static string LastUserMessage(ChatRequest request)
    {
        for (var i = request.Messages.Count - 1; i >= 0; i--)
        {
            if (request.Messages[i].Role == "user")
            {
                return request.Messages[i].Content;
            }
        }

        return request.Messages.Count > 0 ? request.Messages[^1].Content : string.Empty;
    }
}
