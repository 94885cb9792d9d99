using GptWsDaemon.Tests.Support;

namespace GptWsDaemon.Tests.Processes;

/// <summary>A new user's first minutes: <c>./run.sh</c> from anywhere, then the seed README's two example requests.</summary>
[NonParallelizable]
[Category("process")]
[TestFixture]
public sealed class RunScriptTests
{
    [Test, CancelAfter(180000)]
    public async Task RunScript_FromAnotherDirectory_SeedExamplesStreamInBothModes(CancellationToken ct)
    {
        var port = DaemonFixture.FreePort();
        await using var daemon = DaemonProcess.LaunchRunScript(port, ["--log-level", "Info"]);
        await daemon.WaitForHealthyAsync(port, ct);
        using var client = await WsTestClient.ConnectAsync(daemon.WsUri, ct);

        // The seed README's davinci-003 request, then its gpt-3.5-turbo request with origin_stream=false.
        await client.SendAsync("""{"seq": "yuwrywirw89573459", "data": {"query": "杭州都有什么景色？", "model": "text-davinci-003"}}""", ct);
        await client.SendAsync("""
            {"seq": "yuwrywirw89573460", "data": {"query": "", "messages": [
              {"role": "system", "content": "AI只能用中文回复\n这是Human和AI之间的对话"},
              {"role": "user", "content": "你是哪里人？"}, {"role": "assistant", "content": "我是杭州人。"},
              {"role": "user", "content": "杭州都有什么景色？"}], "model": "gpt-3.5-turbo", "origin_stream": false}}
            """, ct);
        var tokens = await client.ReadStreamAsync("yuwrywirw89573459", ct);
        var sentences = await client.ReadStreamAsync("yuwrywirw89573460", ct);
        await daemon.SignalAsync("TERM", ct);
        var exit = await daemon.WaitForExitAsync(TimeSpan.FromSeconds(30), ct);

        Assert.Multiple(() =>
        {
            Assert.That(tokens.Text, Is.EqualTo(DemoChat.Answer("杭州都有什么景色？")));
            Assert.That(sentences.Text, Is.EqualTo(tokens.Text));
            Assert.That(tokens.ContentFrames.Count(), Is.GreaterThan(3 * sentences.ContentFrames.Count()), "token frames vs sentence frames");
            Assert.That(sentences.ContentFrames.Select(f => f.GetProperty("data").GetProperty("contents").GetString()), Has.Some.EndsWith("。").Or.Some.EndsWith("！"));
            Assert.That(tokens.FinishReason, Is.EqualTo("stop"));
            Assert.That(sentences.FinishReason, Is.EqualTo("stop"));
            Assert.That(daemon.Stdout, Does.Contain("DEMO MODE"));
            Assert.That(exit, Is.Zero, "SIGTERM reaches the daemon through run.sh's exec");
        });
    }
}
