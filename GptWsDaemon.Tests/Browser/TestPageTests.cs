using System.Diagnostics;
using System.Text.Json;
using GptWsDaemon.Protocol;
using GptWsDaemon.Tests.Support;
using GptWsDaemon.Upstream;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace GptWsDaemon.Tests.Browser;

/// <summary>
/// The built-in test page end to end (protocol.md §3): the daemon in demo mode in this process, Debian's Chromium driven headless by
/// Playwright. Every wait is on a DOM condition with a generous timeout, never a sleep.
/// </summary>
[Category("browser")]
[TestFixture]
[NonParallelizable]
public sealed class TestPageTests
{
    private const string SystemPrompt = "You are a helpful assistant.";
    private BrowserSession _browser = null!;
    private Stopwatch _clock = null!;

    [OneTimeSetUp]
    public async Task LaunchBrowser()
    {
        var started = Stopwatch.StartNew();
        _browser = await BrowserSession.LaunchAsync();
        TestContext.Progress.WriteLine($"browser: {BrowserSession.ChromiumPath} started in {started.ElapsedMilliseconds} ms; screenshots in {Screenshots.Folder}");
    }

    [OneTimeTearDown]
    public async Task CloseBrowser()
    {
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }
    }

    [SetUp]
    public void StartClock() => _clock = Stopwatch.StartNew();

    [TearDown]
    public void PrintDuration() => TestContext.Out.WriteLine($"{TestContext.CurrentContext.Test.Name}: {_clock.ElapsedMilliseconds} ms");

    [Test, CancelAfter(180_000)]
    public async Task OriginStream_ChineseAndEmojiQuestion_AnswerGrowsPieceByPieceAndCompletes(CancellationToken ct)
    {
        // 50 ms a token: the ~140-token answer streams for several seconds, time enough for a mid-stream screenshot.
        await using var daemon = await DaemonFixture.StartDemoAsync(s => s with { DemoTokenDelay = TimeSpan.FromMilliseconds(50) });
        await using var page = await TestPage.OpenAsync(_browser.Context, daemon.HttpUri);
        await page.WaitConnectedAsync().WaitAsync(ct);
        await Expect(page.ById("ws-url")).ToHaveValueAsync(daemon.WsUri.ToString());

        const string question = "杭州都有什么景色？🌸 Any tips?";
        var seq = await page.AskAsync(question);
        await page.WaitFramesAsync(25).WaitAsync(ct);
        var midStreamLength = (await page.AnswerTextAsync()).Length;
        var midState = await page.AnswerDataAsync("state");
        var streaming = await page.ScreenshotAsync("test-page-streaming");
        await page.WaitAnswerStateAsync("done").WaitAsync(ct);
        var finished = await page.ScreenshotAsync("test-page-finished");
        Screenshots.MaybeUpdateDocs(finished);

        var expected = DemoAnswer(question);
        var text = await page.AnswerTextAsync();
        var growth = await page.GrowthAsync();
        var frames = int.Parse(await page.AnswerDataAsync("frames") ?? "0", System.Globalization.CultureInfo.InvariantCulture);
        var received = (await page.RawJsonAsync("in")).Where(f => SeqOf(f) == seq).ToList();
        var request = (await page.RawJsonAsync("out")).Single(f => SeqOf(f) == seq);
        TestContext.Out.WriteLine($"streamed {frames} frames through {growth.Length} lengths; mid-stream shot at {midStreamLength} chars ({midState}): {streaming}");
        Assert.Multiple(() =>
        {
            Assert.That(seq, Does.Match(@"^web-[0-9a-z]+-\d+$"));
            Assert.That(text, Is.EqualTo(expected), "Chinese and emoji arrive intact, every piece in order");
            Assert.That(midStreamLength, Is.GreaterThan(0).And.LessThan(expected.Length), "the screenshot caught the answer mid-stream");
            Assert.That(growth, Has.Length.GreaterThanOrEqualTo(20), "the text grew through many distinct lengths");
            Assert.That(growth, Is.Ordered.Ascending.And.Unique);
            Assert.That(growth, Has.All.LessThanOrEqualTo(expected.Length));
            Assert.That(frames, Is.GreaterThan(50), "origin_stream relays token by token");
            Assert.That(received.Count(IsContent), Is.EqualTo(frames), "the raw panel shows every content frame");
            Assert.That(received[^1].GetProperty("data").GetProperty("finish_reason").GetString(), Is.EqualTo("stop"));
            Assert.That(request.GetProperty("data").GetProperty("origin_stream").GetBoolean(), Is.True);
            Assert.That(request.GetProperty("data").GetProperty("model").GetString(), Is.EqualTo("gpt-3.5-turbo"));
            Assert.That(request.GetProperty("data").TryGetProperty("temperature", out _), Is.False, "openai_parameter on: the provider's defaults, no parameters");
            Assert.That(request.GetProperty("data").GetProperty("messages")[0].GetProperty("role").GetString(), Is.EqualTo("system"));
            Assert.That(request.GetProperty("data").GetProperty("messages")[1].GetProperty("content").GetString(), Is.EqualTo(question));
            Assert.That(page.PageErrors, Is.Empty);
        });
        await Expect(page.ById("stat-frames").Last).ToHaveTextAsync($"{frames} frames");
        await Expect(page.ById("stat-ttft").Last).ToHaveTextAsync(new System.Text.RegularExpressions.Regex(@"^TTFT \d+ ms$"));
        await Expect(page.ById("stat-consume-time").Last).ToHaveTextAsync(new System.Text.RegularExpressions.Regex(@"^consume_time \d+\.\d\d s$"));
        await Expect(page.ById("stat-finish").Last).ToHaveTextAsync("finish stop");
        await Expect(page.ById("stat-usage").Last).ToContainTextAsync("tokens");
        await Expect(page.Send).ToBeEnabledAsync();
        await Expect(page.Cancel).ToBeDisabledAsync();
    }

    [Test, CancelAfter(180_000)]
    public async Task SentenceMode_FollowUpQuestion_StreamsSentencesAndCarriesHistory(CancellationToken ct)
    {
        await using var daemon = await DaemonFixture.StartDemoAsync(s => s with { DemoTokenDelay = TimeSpan.FromMilliseconds(30) });
        await using var page = await TestPage.OpenAsync(_browser.Context, daemon.HttpUri);
        await page.WaitConnectedAsync().WaitAsync(ct);

        await page.OriginStream.UncheckAsync();
        await page.ById("segment").SelectOptionAsync("sentence");
        const string first = "你是哪里人？";
        var firstSeq = await page.AskAsync(first);
        await page.WaitAnswerStateAsync("done").WaitAsync(ct);
        var firstText = await page.AnswerTextAsync();
        var firstGrowth = await page.GrowthAsync();
        var firstFrames = int.Parse(await page.AnswerDataAsync("frames") ?? "0", System.Globalization.CultureInfo.InvariantCulture);
        await Expect(page.ById("history-count")).ToHaveAttributeAsync("data-count", "2");

        await page.OriginStream.CheckAsync();
        const string second = "杭州都有什么景色？";
        var secondSeq = await page.AskAsync(second);
        await page.WaitAnswerStateAsync("done").WaitAsync(ct);
        await Expect(page.ById("history-count")).ToHaveAttributeAsync("data-count", "4");

        var sent = await page.RawJsonAsync("out");
        var firstRequest = sent.Single(f => SeqOf(f) == firstSeq).GetProperty("data");
        var secondRequest = sent.Single(f => SeqOf(f) == secondSeq).GetProperty("data");
        var messages = secondRequest.GetProperty("messages").EnumerateArray()
            .Select(m => (m.GetProperty("role").GetString(), m.GetProperty("content").GetString())).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(firstText, Is.EqualTo(DemoAnswer(first)));
            Assert.That(firstFrames, Is.InRange(4, 40), "origin_stream=false relays short sentences");
            Assert.That(firstGrowth, Has.Length.GreaterThanOrEqualTo(3), "the sentences arrived one after another");
            Assert.That(firstGrowth, Is.Ordered.Ascending.And.Unique);
            Assert.That(firstRequest.GetProperty("origin_stream").GetBoolean(), Is.False);
            Assert.That(firstRequest.GetProperty("segment").GetString(), Is.EqualTo("sentence"));
            Assert.That(secondRequest.GetProperty("origin_stream").GetBoolean(), Is.True);
            Assert.That(messages, Is.EqualTo(new[]
            {
                ("system", SystemPrompt), ("user", first), ("assistant", firstText), ("user", second),
            }), "the completed answer joins the history as an assistant message");
            Assert.That(page.PageErrors, Is.Empty);
        });
        Assert.That(await page.AnswerTextAsync(), Is.EqualTo(DemoAnswer(second)));

        await page.Clear.ClickAsync();
        await Expect(page.ById("turn")).ToHaveCountAsync(0);
        await Expect(page.ById("history-count")).ToHaveAttributeAsync("data-count", "0");
    }

    [Test, CancelAfter(180_000)]
    public async Task CancelButton_LongAnswer_SendsCancelActionAndEndsCancelled(CancellationToken ct)
    {
        // 100 ms a token: the whole answer would take about 14 s, so the cancel lands well before its end.
        await using var daemon = await DaemonFixture.StartDemoAsync(s => s with { DemoTokenDelay = TimeSpan.FromMilliseconds(100) });
        await using var page = await TestPage.OpenAsync(_browser.Context, daemon.HttpUri);
        await page.WaitConnectedAsync().WaitAsync(ct);

        const string question = "Tell me everything about Hangzhou.";
        var seq = await page.AskAsync(question);
        await page.WaitFramesAsync(5).WaitAsync(ct);
        await Expect(page.Send).ToBeDisabledAsync();
        await page.Cancel.ClickAsync();
        await page.WaitAnswerStateAsync("cancelled").WaitAsync(ct);
        await page.ScreenshotAsync("test-page-cancelled");

        var text = await page.AnswerTextAsync();
        var sent = await page.RawJsonAsync("out");
        var received = (await page.RawJsonAsync("in")).Where(f => SeqOf(f) == seq).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(sent.Count(f => SeqOf(f) == seq && f.TryGetProperty("action", out var a) && a.GetString() == "cancel"), Is.EqualTo(1),
                "the Cancel button sends {seq, action: cancel} for the in-flight seq");
            Assert.That(text, Is.Not.Empty);
            Assert.That(DemoAnswer(question), Does.StartWith(text).And.Not.EqualTo(text), "a prefix of the answer, not all of it");
            Assert.That(received[^1].GetProperty("data").GetProperty("finish_reason").GetString(), Is.EqualTo("cancelled"));
            Assert.That(page.PageErrors, Is.Empty);
        });
        await Expect(page.ById("stat-finish").Last).ToHaveTextAsync("finish cancelled");
        await Expect(page.Send).ToBeEnabledAsync();
        await Expect(page.Cancel).ToBeDisabledAsync();
        await Expect(page.Status).ToHaveAttributeAsync("data-state", "connected");
    }

    [Test, CancelAfter(180_000)]
    public async Task TemperatureFive_Send_ShowsErrorFrame1004InPlainWordsAndStaysConnected(CancellationToken ct)
    {
        await using var daemon = await DaemonFixture.StartDemoAsync(s => s with { DemoTokenDelay = TimeSpan.FromMilliseconds(5) });
        await using var page = await TestPage.OpenAsync(_browser.Context, daemon.HttpUri);
        await page.WaitConnectedAsync().WaitAsync(ct);

        await page.OpenAiParameter.UncheckAsync();
        await page.Temperature.FillAsync("5");
        var seq = await page.AskAsync("Say something hot.");
        await page.WaitAnswerStateAsync("error").WaitAsync(ct);
        await Expect(page.LastAnswerError).ToBeVisibleAsync();
        await page.ScreenshotAsync("test-page-error");

        var errorText = await page.LastAnswerError.TextContentAsync();
        var request = (await page.RawJsonAsync("out")).Single(f => SeqOf(f) == seq);
        var reply = (await page.RawJsonAsync("in")).Single(f => SeqOf(f) == seq);
        Assert.Multiple(() =>
        {
            Assert.That(request.GetProperty("data").GetProperty("temperature").GetDouble(), Is.EqualTo(5));
            Assert.That(request.GetProperty("data").GetProperty("openai_parameter").GetBoolean(), Is.False);
            Assert.That(reply.GetProperty("code").GetInt32(), Is.EqualTo(1004));
            Assert.That(errorText, Does.Contain("1004").And.Contain("out of range").And.Contain("temperature"));
            Assert.That(page.PageErrors, Is.Empty);
        });
        await Expect(page.LastAnswerError).ToHaveAttributeAsync("data-code", "1004");
        await Expect(page.ById("history-count")).ToHaveAttributeAsync("data-count", "0");

        // The socket stays open: a corrected request streams on the same connection.
        await page.Temperature.FillAsync("0.7");
        await page.AskAsync("Say something warm.");
        await page.WaitAnswerStateAsync("done").WaitAsync(ct);
        Assert.That(await page.AnswerTextAsync(), Is.EqualTo(DemoAnswer("Say something warm.")));
        Assert.That(await page.RawFrames.Filter(new LocatorFilterOptions { HasText = "connected to" }).CountAsync(), Is.EqualTo(1), "one connection throughout");
    }

    [Test, CancelAfter(180_000)]
    public async Task DaemonRestart_SocketDropped_PageShowsReconnectingAndStreamsAgain(CancellationToken ct)
    {
        var port = DaemonFixture.FreePort();
        var daemon = await DaemonFixture.StartDemoAsync(s => s with { Port = port, DemoTokenDelay = TimeSpan.FromMilliseconds(5) });
        await using var page = await TestPage.OpenAsync(_browser.Context, daemon.HttpUri);
        try
        {
            await page.WaitConnectedAsync().WaitAsync(ct);
        }
        finally
        {
            await daemon.DisposeAsync();
        }

        await Expect(page.Status).ToHaveAttributeAsync("data-state", "reconnecting");
        await Expect(page.Status).ToContainTextAsync("reconnecting in");
        await page.ScreenshotAsync("test-page-reconnecting");

        await using var restarted = await DaemonFixture.StartDemoAsync(s => s with { Port = port, DemoTokenDelay = TimeSpan.FromMilliseconds(5) });
        await page.WaitConnectedAsync().WaitAsync(ct);
        await page.AskAsync("Still there?");
        await page.WaitAnswerStateAsync("done").WaitAsync(ct);

        Assert.That(await page.AnswerTextAsync(), Is.EqualTo(DemoAnswer("Still there?")));
        Assert.That(await page.RawFrames.Filter(new LocatorFilterOptions { HasText = "connected to" }).CountAsync(), Is.EqualTo(2));
        Assert.That(page.PageErrors, Is.Empty);
    }

    [Test, CancelAfter(180_000)]
    public async Task SocketCutMidAnswer_PageReconnectsResumesAndFinishesTheAnswerByItself(CancellationToken ct)
    {
        // protocol.md §4.5 through /gptws.js: the page's TCP connection is reset mid-answer (a forwarder in between).
        await using var daemon = await DaemonFixture.StartDemoAsync(s => s with { DemoTokenDelay = TimeSpan.FromMilliseconds(40) });
        await using var cutter = new TcpCutter(daemon.Settings.Port);
        await using var page = await TestPage.OpenAsync(_browser.Context, cutter.HttpUri);
        await page.WaitConnectedAsync().WaitAsync(ct);

        const string question = "火车进隧道了怎么办？ 🚄";
        var seq = await page.AskAsync(question);
        await page.WaitFramesAsync(15).WaitAsync(ct);
        cutter.CutAll();
        await Expect(page.Status).ToHaveAttributeAsync("data-state", "reconnecting");
        await page.WaitAnswerStateAsync("done").WaitAsync(ct);
        await page.ScreenshotAsync("test-page-resumed");

        var resume = (await page.RawJsonAsync("out")).Single(f => f.TryGetProperty("action", out var a) && a.GetString() == "resume");
        var received = (await page.RawJsonAsync("in")).Where(f => SeqOf(f) == seq).Select(f => f.GetProperty("data").GetProperty("n").GetInt64()).ToList();
        var text = await page.AnswerTextAsync();
        var resumes = await page.AnswerDataAsync("resumes");
        Assert.Multiple(() =>
        {
            Assert.That(text, Is.EqualTo(DemoAnswer(question)), "the whole answer, each piece once");
            Assert.That(resumes, Is.EqualTo("1"));
            Assert.That(SeqOf(resume), Is.EqualTo(seq));
            Assert.That(resume.GetProperty("after").GetInt64(), Is.GreaterThanOrEqualTo(15));
            Assert.That(received.Distinct().Order(), Is.EqualTo(Enumerable.Range(1, (int)received.Max()).Select(i => (long)i)), "no frame missing");
            Assert.That(cutter.Cuts, Is.GreaterThan(0));
            Assert.That(page.PageErrors, Is.Empty);
        });
    }

    [Test, CancelAfter(180_000)]
    public async Task AccessTokens_Configured_RefusedWithoutTokenThenConnectsWithIt(CancellationToken ct)
    {
        await using var daemon = await DaemonFixture.StartDemoAsync(s => s with { AccessTokens = ["s3cret-token"], DemoTokenDelay = TimeSpan.FromMilliseconds(5) });
        await using var page = await TestPage.OpenAsync(_browser.Context, daemon.HttpUri);

        await Expect(page.Status).ToHaveAttributeAsync("data-state", "reconnecting");
        await Expect(page.ById("notice").First).ToContainTextAsync("access token");

        await page.Token.FillAsync("s3cret-token");
        await page.Token.PressAsync("Enter");
        await page.WaitConnectedAsync().WaitAsync(ct);
        await page.AskAsync("Who am I?");
        await page.WaitAnswerStateAsync("done").WaitAsync(ct);

        Assert.That(await page.AnswerTextAsync(), Is.EqualTo(DemoAnswer("Who am I?")));
        // The token went as an offered subprotocol, the daemon selected gptws, and the URL carries no token.
        // (The reconnect timer may fire between the fill and the Enter: then the page connects twice.)
        var connected = page.RawFrames.Filter(new LocatorFilterOptions { HasText = "connected to" }).Last;
        await Expect(connected).ToContainTextAsync("(subprotocol gptws, token offered as bearer.***)");
        Assert.That(await connected.TextContentAsync(), Does.Not.Contain("token="), "no token in the URL");
        Assert.That(await page.ById("raw").TextContentAsync(), Does.Not.Contain("s3cret-token"), "the raw panel never shows the token");

        // A page opened as /?token=T connects at once.
        await using var direct = await TestPage.OpenAsync(_browser.Context, new Uri(daemon.HttpUri, "/?token=s3cret-token"));
        await direct.WaitConnectedAsync().WaitAsync(ct);
        Assert.That(page.PageErrors.Concat(direct.PageErrors), Is.Empty);
    }

    [Test, CancelAfter(180_000)]
    public async Task RawPanel_PingAndUnreadableFrame_ShowsPongAndError1001(CancellationToken ct)
    {
        await using var daemon = await DaemonFixture.StartDemoAsync();
        await using var page = await TestPage.OpenAsync(_browser.Context, daemon.HttpUri);
        await page.WaitConnectedAsync().WaitAsync(ct);

        await page.ById("ping").ClickAsync();
        await Expect(page.Page.Locator("[data-testid=raw-frame][data-kind=pong]")).ToHaveCountAsync(1);
        await page.ById("raw-input").FillAsync("this is not JSON");
        await page.ById("raw-send").ClickAsync();
        await Expect(page.ById("notice").Last).ToContainTextAsync("Error 1001");

        var sent = await page.Page.Locator("[data-testid=raw-frame][data-dir=out] [data-testid=raw-json]").AllTextContentsAsync();
        var received = await page.RawJsonAsync("in");
        Assert.Multiple(() =>
        {
            Assert.That(sent, Is.EqualTo(new[] { "{\"action\":\"ping\"}", "this is not JSON" }), "frames are shown exactly as sent");
            Assert.That(received.Select(f => f.GetProperty("code").GetInt32()), Is.EqualTo(new[] { 0, 1001 }));
            Assert.That(received[0].GetProperty("msg").GetString(), Is.EqualTo("pong"));
            Assert.That(page.PageErrors, Is.Empty);
        });
        await Expect(page.Status).ToHaveAttributeAsync("data-state", "connected");
    }

    [Test, CancelAfter(180_000)]
    public async Task PhoneViewport_Page_SettingsCollapseUnderTheChatAndStillStream(CancellationToken ct)
    {
        await using var daemon = await DaemonFixture.StartDemoAsync(s => s with { DemoTokenDelay = TimeSpan.FromMilliseconds(5) });
        await using var page = await TestPage.OpenAsync(_browser.Context, daemon.HttpUri, new ViewportSize { Width = 390, Height = 844 });
        await page.WaitConnectedAsync().WaitAsync(ct);

        await page.AskAsync("手机上也能用吗？📱");
        await page.WaitAnswerStateAsync("done").WaitAsync(ct);
        await page.ScreenshotAsync("test-page-phone", fullPage: true);

        var chat = (await page.ById("chat").BoundingBoxAsync())!;
        var composer = (await page.ById("question").BoundingBoxAsync())!;
        var settings = (await page.Page.Locator("#settings-panel").BoundingBoxAsync())!;
        var width = await page.Page.EvaluateAsync<int>("() => document.documentElement.scrollWidth");
        Assert.Multiple(() =>
        {
            Assert.That(settings.Y, Is.GreaterThanOrEqualTo(composer.Y + composer.Height), "settings sit under the chat");
            Assert.That(chat.Width, Is.GreaterThan(330), "the chat takes the whole width");
            Assert.That(width, Is.LessThanOrEqualTo(390), "nothing overflows sideways");
            Assert.That(page.PageErrors, Is.Empty);
        });
    }

    private static string DemoAnswer(string question) => DemoUpstream.AnswerFor(new ChatRequest
    {
        Seq = RequestSeq.FromString("x"), Model = "m", UpstreamModel = "m", Messages = [new ChatMessage("user", question)],
    });

    private static string? SeqOf(JsonElement frame) =>
        frame.TryGetProperty("seq", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null;

    private static bool IsContent(JsonElement frame) =>
        frame.GetProperty("code").GetInt32() == 0 && frame.TryGetProperty("data", out var d) && d.GetProperty("finish_reason").ValueKind == JsonValueKind.Null;
}
