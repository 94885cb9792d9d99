using System.Runtime.CompilerServices;
using GptWsDaemon.Protocol;

namespace GptWsDaemon.Upstream;

/// <summary>
/// The embedded offline model: streams a deterministic answer (the question echoed, cut at <see cref="MaxEcho"/>
/// characters, then a fixed Chinese and English paragraph) token by token with a small delay, so that a fresh <c>./run.sh</c> works with no key and no network.
/// </summary>
public sealed class DemoUpstream : IChatUpstream
{
    private const string Paragraph =
        "这是 GptWsDaemon 的离线演示模型，没有连接任何真实的 API。杭州有西湖、灵隐寺和龙井村，春天的苏堤尤其美丽！" +
        "This is the offline demo model of GptWsDaemon: it streams a fixed answer, token by token. " +
        "Set an API key with --api-key or OPENAI_API_KEY to talk to a real model. Have a nice day!";

    /// <summary>Longest part of the question the demo echoes: a 1 MiB question must not become a 1 MiB answer.</summary>
    public const int MaxEcho = 200;

    private readonly TimeSpan _tokenDelay;

    /// <summary>Creates the demo model with a delay between tokens.</summary>
    public DemoUpstream(TimeSpan tokenDelay) => _tokenDelay = tokenDelay;

    /// <inheritdoc/>
    public string Name => "demo";

    /// <summary>The whole answer the demo gives to <paramref name="request"/>: the question (at most <see cref="MaxEcho"/> characters, "…" when cut) and the paragraph.</summary>
    public static string AnswerFor(ChatRequest request)
    {
        var question = (request.Query.Length > 0 ? request.Query : LastUserMessage(request)).AsSpan().Trim();
        if (question.Length <= MaxEcho)
        {
            return $"你问的是：「{question}」。{Paragraph}";
        }

        var keep = char.IsHighSurrogate(question[MaxEcho - 1]) ? MaxEcho - 1 : MaxEcho;
        return $"你问的是：「{question[..keep]}…」。{Paragraph}";
    }

    /// <summary>
    /// Where the token starting at <paramref name="start"/> ends, cut the way a model streams: a CJK character alone, a
    /// word with its leading space, punctuation alone. Tokens are found one at a time, never listed.
    /// </summary>
    public static int NextToken(ReadOnlySpan<char> text, int start)
    {
        var i = start;
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

        return i;
    }

    /// <summary>How many tokens <paramref name="text"/> has, counted without making them.</summary>
    public static int CountTokens(ReadOnlySpan<char> text)
    {
        var count = 0;
        for (var i = 0; i < text.Length; i = NextToken(text, i))
        {
            count++;
        }

        return count;
    }

    /// <inheritdoc/>
    /// <remarks>Not an iterator itself: the stream that follows keeps the short answer, not the request and its text.</remarks>
    public IAsyncEnumerable<UpstreamChunk> StreamAsync(ChatRequest request, CancellationToken cancellationToken)
    {
        var promptTokens = 0;
        foreach (var message in request.Messages)
        {
            promptTokens += CountTokens(message.Content);
        }

        var limit = request.OpenAiParameter ? int.MaxValue : request.Parameters.MaxTokens;
        return StreamAsync(AnswerFor(request), limit, promptTokens, cancellationToken);
    }

    private async IAsyncEnumerable<UpstreamChunk> StreamAsync(string answer, int limit, int promptTokens, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var sent = 0;
        var at = 0;
        while (at < answer.Length && sent < limit)
        {
            var end = NextToken(answer, at);
            await Task.Delay(_tokenDelay, cancellationToken).ConfigureAwait(false);
            sent++;
            yield return new UpstreamChunk(answer.AsMemory(at, end - at), null, null);
            at = end;
        }

        yield return new UpstreamChunk(default, at < answer.Length ? "length" : "stop", new UsageInfo(promptTokens, sent));
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
