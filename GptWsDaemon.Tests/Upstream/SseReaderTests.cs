using System.Net.ServerSentEvents;
using System.Text;
using GptWsDaemon.Upstream;

using GptWsDaemon.Tests.Support;

namespace GptWsDaemon.Tests.Upstream;

/// <summary>
/// <see cref="SseReader"/> against the runtime's <see cref="SseParser"/> as the oracle, over
/// {LF, CR, CRLF, mixed} × {whole, one byte per read, random reads} (the matrix of dotnet/runtime's SseParserTests).
/// Where the two differ, WHATWG decides (https://html.spec.whatwg.org/multipage/server-sent-events.html):
/// <list type="bullet">
/// <item>Event id: <see cref="SseItem{T}.EventId"/> is only the id field of that event's own block; the spec's
/// "last event ID buffer ... does not get reset" is <see cref="SseParser{T}.LastEventId"/>, and that is what our
/// <see cref="SseEvent.Id"/> carries. The spec's empty string (no id) is our null.</item>
/// <item>An empty <c>event:</c> value: SseParser reports type "", the spec dispatches "message" ("if the event type buffer has
/// a value other than the empty string" it names the type). We follow the spec; the oracle's "" is read as "message".</item>
/// <item>An <c>event:</c> in a block without data: SseParser carries the type over to the next event; the spec resets it.
/// We follow the spec (pinned below); the random streams do not generate that case.</item>
/// </list>
/// </summary>
[Category("unit")]
[TestFixture]
public sealed class SseReaderTests
{
    private const int Seeds = 300;

    private static readonly string[] SpecExamples =
    [
        // WHATWG §9.2.6 examples.
        "data: YHOO\ndata: +2\ndata: 10\n\n",
        ": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n",
        "data\n\ndata\ndata\n\ndata:",
        "data:test\n\ndata: test\n\n",
        // OpenAI-shaped streams, including what compatible providers send (protocol.md §9).
        ": PROCESSING\n\ndata: {\"choices\":[]}\n\ndata:{\"choices\":[{\"delta\":{\"content\":\"杭州\"}}]}\n\ndata: [DONE]\n\n",
        "event: error\ndata: {\"error\":{\"message\":\"boom\"}}\n\n",
        "retry: 10\nid: 42\n\n\n\nevent: ping\ndata: after\n\n",
        "\uFEFFdata: bom\n\n",
        "\uFEFF\uFEFFdata: only one BOM is stripped\n\ndata: next\n\n",
        "data: a\0b\n\n",
        string.Empty,
        "\uFEFF",
        "\n\n\n",
        "data: never dispatched",
    ];

    [Test, CancelAfter(20000)]
    public async Task ReadAsync_RandomStreams_MatchSseParser([Values] LineEnd lineEnd, [Values] Chunking chunking, CancellationToken ct)
    {
        var events = 0;
        for (var seed = 0; seed < Seeds; seed++)
        {
            var bytes = SseStreamGenerator.Generate(seed, lineEnd);
            var expected = await ReadOracleAsync(Serve(bytes, chunking, seed), ct);
            var actual = await ReadOursAsync(Serve(bytes, chunking, seed), SseReader.DefaultMaxLineBytes, ct);
            Assert.That(actual, Is.EqualTo(expected), $"seed {seed}, {lineEnd}, {chunking}: {SseStreamGenerator.Escape(bytes)}");
            events += expected.Count;
        }

        // The generator must exercise the reader, not hand it empty streams.
        Assert.That(events, Is.GreaterThan(Seeds));
    }

    [Test, CancelAfter(10000)]
    public async Task ReadAsync_SpecExamples_MatchSseParser(
        [ValueSource(nameof(SpecExamples))] string example, [Values] LineEnd lineEnd, [Values] Chunking chunking, CancellationToken ct)
    {
        var bytes = Encoding.UTF8.GetBytes(WithLineEnds(example, lineEnd));
        var expected = await ReadOracleAsync(Serve(bytes, chunking, 7), ct);
        var actual = await ReadOursAsync(Serve(bytes, chunking, 7), SseReader.DefaultMaxLineBytes, ct);
        Assert.That(actual, Is.EqualTo(expected));
    }

    [Test, CancelAfter(5000)]
    public async Task ReadAsync_SpecExample_YieldsTheSpecsEvents(CancellationToken ct)
    {
        var bytes = Encoding.UTF8.GetBytes(": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n");
        var events = await ReadOursAsync(ChunkedStream.Whole(bytes), 1024, ct);

        // The third block has no blank line after it: "the incomplete event is not dispatched".
        Assert.That(events, Is.EqualTo(new[] { Describe("message", "first event"u8, "1"), Describe("message", "second event"u8, null) }));
    }

    [Test, CancelAfter(5000)]
    public async Task ReadAsync_IdField_KeepsLastEventIdAcrossEvents(CancellationToken ct)
    {
        // WHATWG: "The buffer does not get reset, so the last event ID string of the event source remains set to this
        // value until the next time it is set by the server." SseParser's SseItem.EventId is per event (null for "b");
        // its LastEventId, and our Id, follow the spec. "id" with no value clears it; an id with NUL is ignored.
        var bytes = "id: 1\ndata: a\n\ndata: b\n\nid: 2\n\nid: x\0y\ndata: c\n\nid\ndata: d\n\ndata: e\n\n"u8.ToArray();
        var events = await ReadOursAsync(ChunkedStream.OneByte(bytes), 1024, ct);

        Assert.That(events, Is.EqualTo(new[]
        {
            Describe("message", "a"u8, "1"), Describe("message", "b"u8, "1"), Describe("message", "c"u8, "2"),
            Describe("message", "d"u8, null), Describe("message", "e"u8, null),
        }));
    }

    [Test, CancelAfter(5000)]
    public async Task ReadAsync_EventTypeOfBlockWithoutData_IsDiscarded(CancellationToken ct)
    {
        // WHATWG dispatch step 2: "If the data buffer is an empty string, set the data buffer and the event type buffer to
        // the empty string and return." SseParser would report "error" for the second block; that would turn a normal
        // chunk into a mid-stream error in ProviderStreams.
        var bytes = "event: error\n\ndata: {}\n\n"u8.ToArray();
        var events = await ReadOursAsync(ChunkedStream.Whole(bytes), 1024, ct);

        Assert.That(events, Is.EqualTo(new[] { Describe("message", "{}"u8, null) }));
    }

    [TestCase("event:\ndata: x\n\n")]
    [TestCase("event\ndata: x\n\n")]
    [TestCase("event: message\ndata: x\n\n")]
    [TestCase("event: error\nevent:\ndata: x\n\n")]
    [CancelAfter(5000)]
    public async Task ReadAsync_EmptyOrMessageEventType_DispatchesMessage(string stream, CancellationToken ct)
    {
        // WHATWG: only "a value other than the empty string" renames the event; SseParser says "" here.
        var events = await ReadOursAsync(ChunkedStream.Whole(Encoding.UTF8.GetBytes(stream)), 1024, ct);
        Assert.That(events, Is.EqualTo(new[] { Describe("message", "x"u8, null) }));
    }

    [Test, CancelAfter(5000)]
    public async Task ReadAsync_NamedEvent_CarriesTypeForOneEventOnly(CancellationToken ct)
    {
        var bytes = "event: error\ndata: {\"error\":\"x\"}\n\ndata: next\n\n"u8.ToArray();
        var events = await ReadOursAsync(ChunkedStream.OneByte(bytes), 1024, ct);
        Assert.That(events, Is.EqualTo(new[] { Describe("error", "{\"error\":\"x\"}"u8, null), Describe("message", "next"u8, null) }));
    }

    [Test, CancelAfter(5000)]
    public async Task ReadAsync_DoneSentinel_YieldsItsRawBytes([Values] Chunking chunking, CancellationToken ct)
    {
        var bytes = "data: {\"choices\":[]}\n\ndata: [DONE]\n\n"u8.ToArray();
        var seen = new List<byte[]>();
        await foreach (var e in new SseReader(Serve(bytes, chunking, 1)).ReadAsync(ct))
        {
            seen.Add(e.Data.ToArray());
        }

        Assert.That(seen, Has.Count.EqualTo(2));
        Assert.That(seen[1].AsSpan().SequenceEqual("[DONE]"u8), Is.True);
    }

    [Test, CancelAfter(5000)]
    public async Task ReadAsync_CrlfSplitAcrossReads_IsOneLineEnd(CancellationToken ct)
    {
        // "data: a\r" | "\ndata: b\r" | "\n\r" | "\n": taking CR and LF as two line ends would dispatch "a" and "b" separately.
        var bytes = "data: a\r\ndata: b\r\n\r\n"u8.ToArray();
        var stream = ChunkedStream.Pieces(bytes, 8, 10, 2, 1);
        var events = await ReadOursAsync(stream, 1024, ct);
        Assert.That(events, Is.EqualTo(new[] { Describe("message", "a\nb"u8, null) }));
    }

    [Test, CancelAfter(5000)]
    public async Task ReadAsync_CrAtEndOfStream_EndsTheLine(CancellationToken ct)
    {
        // The reader waits for the byte after a trailing CR; the end of the stream settles it as a lone CR.
        var bytes = "data: a\r\r"u8.ToArray();
        var events = await ReadOursAsync(ChunkedStream.OneByte(bytes), 1024, ct);
        Assert.That(events, Is.EqualTo(new[] { Describe("message", "a"u8, null) }));
    }

    [Test, CancelAfter(5000)]
    public async Task ReadAsync_Utf8CharSplitAcrossReads_ArrivesIntact([Values(1, 2, 3, 5)] int readSize, CancellationToken ct)
    {
        // protocol.md §5.3: multi-byte UTF-8 split across reads must not turn into U+FFFD.
        const string Text = "杭州🌸西湖 ü 𝄞";
        var bytes = Encoding.UTF8.GetBytes("\uFEFFdata: " + Text + "\nevent: 事件\nid: 标识\n\n");
        var events = new List<(string Type, string Data, string? Id)>();
        await foreach (var e in new SseReader(new ChunkedStream(bytes, () => readSize)).ReadAsync(ct))
        {
            events.Add((e.EventType, Encoding.UTF8.GetString(e.Data.Span), e.Id));
        }

        Assert.That(events, Is.EqualTo(new[] { ("事件", Text, (string?)"标识") }));
    }

    [Test, CancelAfter(5000)]
    public async Task ReadAsync_LineAtCap_IsRead([Values] Chunking chunking, [Values] LineEnd lineEnd, CancellationToken ct)
    {
        const int Cap = 64;
        var line = "data: " + new string('x', Cap - 6);
        var bytes = Encoding.UTF8.GetBytes(WithLineEnds(line + "\n\n", lineEnd));
        var events = await ReadOursAsync(Serve(bytes, chunking, 3), Cap, ct);
        Assert.That(events, Is.EqualTo(new[] { Describe("message", Encoding.UTF8.GetBytes(new string('x', Cap - 6)), null) }));
    }

    [Test, CancelAfter(5000)]
    public void ReadAsync_LineOverCap_ThrowsInvalidDataException([Values] Chunking chunking, [Values] LineEnd lineEnd, CancellationToken ct)
    {
        // The cap is on the line, not on the pooled buffer behind it (which is bigger), and holds however the bytes arrive.
        const int Cap = 64;
        var bytes = Encoding.UTF8.GetBytes(WithLineEnds("data: ok\n\ndata: " + new string('x', Cap - 5) + "\n\n", lineEnd));
        var ex = Assert.ThrowsAsync<InvalidDataException>(async () => await ReadOursAsync(Serve(bytes, chunking, 3), Cap, ct));
        Assert.That(ex.Message, Does.Contain("64"));
    }

    [Test, CancelAfter(5000)]
    public void ReadAsync_EndlessLineWithoutNewline_ThrowsInvalidDataException(CancellationToken ct)
    {
        // An upstream that never sends a newline must not grow our buffer without end.
        var bytes = new byte[100_000];
        bytes.AsSpan().Fill((byte)'a');
        Assert.ThrowsAsync<InvalidDataException>(async () => await ReadOursAsync(ChunkedStream.Random(bytes, 5, 4096), 1000, ct));
    }

    [Test, CancelAfter(10000)]
    public async Task ReadAsync_DefaultCap_ReadsALineOfOneMebibyteAndRefusesOneMore(CancellationToken ct)
    {
        var payload = new byte[SseReader.DefaultMaxLineBytes - 6];
        payload.AsSpan().Fill((byte)'z');
        var ok = Encoding.ASCII.GetBytes("data: ").Concat(payload).Concat("\n\n"u8.ToArray()).ToArray();
        var events = await ReadOursAsync(ChunkedStream.Random(ok, 11, 70_000), SseReader.DefaultMaxLineBytes, ct);
        Assert.That(events, Has.Count.EqualTo(1));

        var tooLong = Encoding.ASCII.GetBytes("data:  ").Concat(payload).Concat("\n\n"u8.ToArray()).ToArray();
        Assert.ThrowsAsync<InvalidDataException>(async () => await ReadOursAsync(ChunkedStream.Random(tooLong, 11, 70_000), SseReader.DefaultMaxLineBytes, ct));
    }

    [Test, CancelAfter(5000)]
    public void ReadAsync_DataLinesOverFourTimesCap_ThrowsInvalidDataException(CancellationToken ct)
    {
        // Each line is within the cap, but one event's data (all its lines) is capped at four lines' worth.
        var text = new StringBuilder();
        for (var i = 0; i < 10; i++)
        {
            text.Append("data: ").Append('d', 50).Append('\n');
        }

        var bytes = Encoding.UTF8.GetBytes(text.Append('\n').ToString());
        Assert.ThrowsAsync<InvalidDataException>(async () => await ReadOursAsync(ChunkedStream.Whole(bytes), 64, ct));
    }

    [Test, CancelAfter(5000)]
    public void ReadAsync_CancelledWhileWaitingForBytes_ThrowsOperationCanceled(CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var stream = new StallingStream("data: partial"u8.ToArray());
        cts.CancelAfter(50);
        Assert.CatchAsync<OperationCanceledException>(async () => await ReadOursAsync(stream, 1024, cts.Token));
        Assert.That(stream.StalledReads, Is.EqualTo(1));
    }

    [Test, CancelAfter(5000)]
    public async Task ReadAsync_CancelledBetweenEvents_StopsReading(CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var stream = new StallingStream("data: one\n\n"u8.ToArray());
        var events = new SseReader(stream).ReadAsync(cts.Token).GetAsyncEnumerator(cts.Token);
        await using (events)
        {
            Assert.That(await events.MoveNextAsync(), Is.True);
            Assert.That(events.Current.Data.ToArray(), Is.EqualTo("one"u8.ToArray()));

            var next = events.MoveNextAsync().AsTask();
            await Task.Delay(20, ct);
            Assert.That(next.IsCompleted, Is.False, "the reader should be waiting on the silent stream");
            await cts.CancelAsync();
            Assert.CatchAsync<OperationCanceledException>(async () => await next);
        }
    }

    [Test, CancelAfter(5000)]
    public void ReadAsync_TokenAlreadyCancelled_ThrowsBeforeYielding(CancellationToken ct)
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var bytes = "data: a\n\n"u8.ToArray();
        Assert.CatchAsync<OperationCanceledException>(async () => await ReadOursAsync(ChunkedStream.Whole(bytes), 1024, cts.Token));
    }

    [Test, CancelAfter(5000)]
    public async Task ReadAsync_CopiedDataOfEarlierEvent_StaysIntactAfterNextEvent([Values] Chunking chunking, CancellationToken ct)
    {
        // Data points into a pooled buffer valid until the next MoveNext: a copy taken before must not change.
        var bytes = "data: first-event-longer-payload\n\ndata: 2nd\n\ndata: third 杭州\n\n"u8.ToArray();
        var copies = new List<byte[]>();
        var views = new List<ReadOnlyMemory<byte>>();
        await foreach (var e in new SseReader(Serve(bytes, chunking, 9)).ReadAsync(ct))
        {
            copies.Add(e.Data.ToArray());
            views.Add(e.Data);
        }

        Assert.Multiple(() =>
        {
            Assert.That(Encoding.UTF8.GetString(copies[0]), Is.EqualTo("first-event-longer-payload"));
            Assert.That(Encoding.UTF8.GetString(copies[1]), Is.EqualTo("2nd"));
            Assert.That(Encoding.UTF8.GetString(copies[2]), Is.EqualTo("third 杭州"));
            Assert.That(views.Select(v => v.Length), Is.EqualTo(new[] { 26, 3, 12 }));
        });
    }

    [Test, CancelAfter(5000)]
    public async Task ReadAsync_TwoReadersInterleaved_DoNotShareBuffers(CancellationToken ct)
    {
        // Two streams read in lock step on one thread: rented buffers must belong to one reader each.
        var a = new SseReader(ChunkedStream.OneByte("data: a1\n\ndata: a2-longer\n\ndata: a3\n\n"u8.ToArray())).ReadAsync(ct).GetAsyncEnumerator(ct);
        var b = new SseReader(ChunkedStream.OneByte("data: b1-much-longer-than-a\n\ndata: b2\n\ndata: b3\n\n"u8.ToArray())).ReadAsync(ct).GetAsyncEnumerator(ct);
        var seen = new List<string>();
        await using (a)
        await using (b)
        {
            while (await a.MoveNextAsync() & await b.MoveNextAsync())
            {
                var dataA = a.Current.Data;
                var dataB = b.Current.Data;
                seen.Add(Encoding.UTF8.GetString(dataA.Span) + "|" + Encoding.UTF8.GetString(dataB.Span));
            }
        }

        Assert.That(seen, Is.EqualTo(new[] { "a1|b1-much-longer-than-a", "a2-longer|b2", "a3|b3" }));
    }

    [Test, CancelAfter(5000)]
    public async Task ReadAsync_ConsumerStopsEarly_DisposesCleanly(CancellationToken ct)
    {
        // Breaking out returns the pooled buffers (finally); a new reader afterwards still reads correctly.
        var bytes = "data: x\n\ndata: y\n\n"u8.ToArray();
        await foreach (var e in new SseReader(ChunkedStream.Whole(bytes)).ReadAsync(ct))
        {
            Assert.That(e.Data.ToArray(), Is.EqualTo("x"u8.ToArray()));
            break;
        }

        var again = await ReadOursAsync(ChunkedStream.Whole(bytes), 1024, ct);
        Assert.That(again, Has.Count.EqualTo(2));
    }

    [Test, CancelAfter(5000)]
    public async Task ReadAsync_PartialBom_IsNotStripped(CancellationToken ct)
    {
        // EF BB without BF is no BOM: the line's field name is then not "data" and the line is ignored, as SseParser does.
        var bytes = new byte[] { 0xEF, 0xBB }.Concat("data: x\n\ndata: y\n\n"u8.ToArray()).ToArray();
        var expected = await ReadOracleAsync(ChunkedStream.Whole(bytes), ct);
        var actual = await ReadOursAsync(ChunkedStream.OneByte(bytes), 1024, ct);
        Assert.That(actual, Is.EqualTo(expected));
        Assert.That(actual, Is.EqualTo(new[] { Describe("message", "y"u8, null) }));
    }

    private static ChunkedStream Serve(byte[] bytes, Chunking chunking, int seed) => chunking switch
    {
        Chunking.Whole => ChunkedStream.Whole(bytes),
        Chunking.OneByte => ChunkedStream.OneByte(bytes),
        _ => ChunkedStream.Random(bytes, seed),
    };

    private static string WithLineEnds(string lfText, LineEnd lineEnd)
    {
        var random = new Random(lfText.Length);
        var sb = new StringBuilder();
        foreach (var c in lfText)
        {
            if (c != '\n')
            {
                sb.Append(c);
                continue;
            }

            sb.Append(lineEnd switch
            {
                LineEnd.Lf => "\n",
                LineEnd.Cr => "\r",
                LineEnd.CrLf => "\r\n",
                _ => random.Next(3) switch { 0 => "\n", 1 => "\r", _ => "\r\n" },
            });
        }

        return sb.ToString();
    }

    private static async Task<List<string>> ReadOursAsync(Stream stream, int maxLineBytes, CancellationToken ct)
    {
        var list = new List<string>();
        await foreach (var e in new SseReader(stream, maxLineBytes).ReadAsync(ct))
        {
            list.Add(Describe(e.EventType, e.Data.Span, e.Id));
        }

        return list;
    }

    private static async Task<List<string>> ReadOracleAsync(Stream stream, CancellationToken ct)
    {
        var list = new List<string>();
        var parser = SseParser.Create(stream, (_, bytes) => bytes.ToArray());
        await foreach (var item in parser.EnumerateAsync(ct))
        {
            // Normalised per the class comment: "" type is "message"; the id is the stream's last event id, "" meaning none.
            var type = item.EventType.Length == 0 ? "message" : item.EventType;
            list.Add(Describe(type, item.Data, string.IsNullOrEmpty(parser.LastEventId) ? null : parser.LastEventId));
        }

        return list;
    }

    private static string Describe(string type, ReadOnlySpan<byte> data, string? id) =>
        $"type={type} data={Convert.ToHexString(data)} ({SseStreamGenerator.Escape(data)}) id={id ?? "<none>"}";
}
