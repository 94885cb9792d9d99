using System.Diagnostics;
using System.Text;
using BenchmarkDotNet.Attributes;
using GptWsDaemon.Protocol;
using GptWsDaemon.Text;
using GptWsDaemon.Upstream;

namespace GptWsBench.Micro;

/// <summary>
/// The daemon's CPU work per relayed token, without sockets: parse one upstream chunk, write one reply frame (and give
/// its pooled buffer back, as the send loop does), or feed the sentence segmenter. MemoryDiagnoser shows bytes per token.
/// </summary>
[MemoryDiagnoser]
public class PerTokenBenchmarks
{
    private static readonly byte[] Chunk = Encoding.UTF8.GetBytes(
        "{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-3.5-turbo\",\"system_fingerprint\":null,\"choices\":[{\"index\":0,\"delta\":{\"content\":\"t17 \"},\"logprobs\":null,\"finish_reason\":null}]}");

    private static readonly byte[] ChineseChunk = Encoding.UTF8.GetBytes(
        "{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-3.5-turbo\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"杭州，\"},\"finish_reason\":null}]}");

    private readonly RequestSeq _seq = RequestSeq.FromString("yuwrywirw89573459");
    private readonly long _receivedAt = Stopwatch.GetTimestamp();
    private char[]? _text; // the per-stream content buffer OpenAiUpstream rents

    /// <summary>Returns the content buffer.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        if (_text is not null)
        {
            System.Buffers.ArrayPool<char>.Shared.Return(_text);
        }
    }

    /// <summary>ChunkParser.Parse of an OpenAI chat chunk.</summary>
    [Benchmark]
    public UpstreamChunk Parse() => ChunkParser.Parse(Chunk, ref _text);

    /// <summary>ChunkParser.Parse of a chunk with Chinese text.</summary>
    [Benchmark]
    public UpstreamChunk ParseChinese() => ChunkParser.Parse(ChineseChunk, ref _text);

    /// <summary>ReplyFrames.Content for one token, buffer returned like ReplyWriter does after the send.</summary>
    [Benchmark]
    public int Frame()
    {
        var frame = ReplyFrames.Content(_seq, _receivedAt, "t17 ");
        var length = frame.Length;
        frame.Release();
        return length;
    }

    /// <summary>The origin_stream=true per-token path: parse, then frame.</summary>
    [Benchmark(Baseline = true)]
    public int ParseAndFrame()
    {
        var chunk = ChunkParser.Parse(Chunk, ref _text);
        var frame = ReplyFrames.Content(_seq, _receivedAt, chunk.Content.Span);
        var length = frame.Length;
        frame.Release();
        return length;
    }

    /// <summary>The sentence-mode per-token path: parse, feed the segmenter, frame what it hands out (1 piece per 4 tokens).</summary>
    [Benchmark(OperationsPerInvoke = 4)]
    public int ParseSegmentFrame()
    {
        var segmenter = new SentenceSegmenter(SegmentMode.Clause);
        var total = 0;
        for (var i = 0; i < 4; i++)
        {
            var chunk = ChunkParser.Parse(i == 3 ? ChineseChunk : Chunk, ref _text);
            segmenter.Append(chunk.Content.Span);
            while (segmenter.TryTake(out var piece))
            {
                var frame = ReplyFrames.Content(_seq, _receivedAt, piece);
                total += frame.Length;
                frame.Release();
            }
        }

        return total;
    }
}
