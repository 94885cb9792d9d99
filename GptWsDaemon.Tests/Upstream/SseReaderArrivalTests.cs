using System.Net.Sockets;
using System.Text;
using GptWsDaemon.Upstream;

using GptWsDaemon.Tests.Support;

namespace GptWsDaemon.Tests.Upstream;

/// <summary>When <see cref="SseReader"/> waits through an <see cref="IByteArrival"/> instead of a zero-byte read on its stream.</summary>
[Category("unit")]
[TestFixture]
public sealed class SseReaderArrivalTests
{
    private static readonly byte[] Stream3 = Encoding.UTF8.GetBytes("data: one\n\ndata: 杭州\n\nevent: x\ndata: three\n\n");

    [Test]
    public async Task AfterEveryShortRead_TheArrivalIsAsked_AndTheStreamGetsNoZeroByteRead()
    {
        var stream = ChunkedStream.Pieces(Stream3, 5, 9, 13);
        var arrival = new RecordingArrival(accept: true);

        var events = await ReadAll(new SseReader(stream, arrival: arrival));

        Assert.That(events, Is.EqualTo(new[] { "message:one", "message:杭州", "x:three" }));
        // Reads: one zero-byte read before the first (nothing was read yet), then 5, 9, 13, the rest and the end of
        // stream; each of the last four follows a short read.
        Assert.That(stream.Reads, Is.EqualTo(6), "no zero-byte read after a short one");
        Assert.That(arrival.Asked, Is.EqualTo(4));
    }

    [Test]
    public async Task ArrivalDeclines_TheStreamGetsItsZeroByteRead()
    {
        var stream = ChunkedStream.Pieces(Stream3, 5, 9, 13);
        var arrival = new RecordingArrival(accept: false);

        var events = await ReadAll(new SseReader(stream, arrival: arrival));

        Assert.That(events, Has.Count.EqualTo(3));
        Assert.That(stream.Reads, Is.EqualTo(10), "five reads, each after a zero-byte read");
        Assert.That(arrival.Asked, Is.EqualTo(4));
    }

    [Test]
    public async Task ArrivalFaults_TheReadBelowDecides()
    {
        var stream = ChunkedStream.Pieces(Stream3, 5, 9, 13);
        var arrival = new RecordingArrival(accept: true, fault: new SocketException((int)SocketError.ConnectionReset));

        var events = await ReadAll(new SseReader(stream, arrival: arrival));

        Assert.That(events, Has.Count.EqualTo(3), "the stream still had the bytes, so nothing is lost");
    }

    [Test]
    public async Task ReadThatFillsTheBuffer_IsNotShort_SoTheArrivalIsNotAsked()
    {
        // One line of 10,000 bytes read whole: the 4 KiB and 8 KiB reads fill the buffer, only the third is short.
        var data = Encoding.ASCII.GetBytes("data: " + new string('a', 10_000) + "\n\n");
        var stream = ChunkedStream.Whole(data);
        var arrival = new RecordingArrival(accept: true);

        var events = await ReadAll(new SseReader(stream, arrival: arrival));

        Assert.That(events, Is.EqualTo(new[] { "message:" + new string('a', 10_000) }));
        Assert.That(arrival.Asked, Is.EqualTo(1), "asked once: before the end-of-stream read that followed the short read");
    }

    [Test]
    public void CancelledWhileWaiting_TheArrivalIsAbandoned()
    {
        using var cancel = new CancellationTokenSource();
        var stream = ChunkedStream.Pieces(Stream3, 5, 9, 13);
        var arrival = new RecordingArrival(accept: true, fault: new OperationCanceledException(cancel.Token));

        Assert.That(async () => await ReadAll(new SseReader(stream, arrival: arrival)), Throws.InstanceOf<OperationCanceledException>());
        Assert.That(arrival.Abandoned, Is.EqualTo(1));
    }

    [Test]
    public async Task EndsNormally_TheArrivalIsNotAbandoned()
    {
        var arrival = new RecordingArrival(accept: true);

        await ReadAll(new SseReader(ChunkedStream.Pieces(Stream3, 5, 9, 13), arrival: arrival));

        Assert.That(arrival.Abandoned, Is.Zero);
    }

    private static async Task<List<string>> ReadAll(SseReader reader)
    {
        var events = new List<string>();
        await foreach (var e in reader.ReadAsync())
        {
            events.Add(e.EventType + ":" + Encoding.UTF8.GetString(e.Data.Span));
        }

        return events;
    }

    private sealed class RecordingArrival(bool accept, Exception? fault = null) : IByteArrival
    {
        public int Asked { get; private set; }

        public int Abandoned { get; private set; }

        public void Abandon() => Abandoned++;

        public bool TryWaitForBytes(CancellationToken cancellationToken, out ValueTask<int> wait)
        {
            Asked++;
            wait = fault is null ? ValueTask.FromResult(0) : ValueTask.FromException<int>(fault);
            return accept;
        }
    }
}
