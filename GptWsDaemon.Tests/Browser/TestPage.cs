using System.Text.Json;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace GptWsDaemon.Tests.Browser;

/// <summary>The built-in test page (GET /) as a test sees it: its controls by their data-testid, and waits on DOM conditions.</summary>
public sealed class TestPage : IAsyncDisposable
{
    /// <summary>
    /// Records every length the newest answer's text goes through while it streams (one entry per change), so that "piece by
    /// piece" is observed in the page itself rather than sampled by polling.
    /// </summary>
    private const string RecordGrowthScript = """
        () => {
          window.__growth = [];
          if (window.__growthObserver) return;
          const chat = document.getElementById('chat');
          window.__growthObserver = new MutationObserver(() => {
            const answers = chat.querySelectorAll('[data-testid=answer]');
            const a = answers[answers.length - 1];
            if (!a || a.dataset.state !== 'streaming') return;
            const n = a.textContent.length, g = window.__growth;
            if (g.length === 0 || g[g.length - 1] !== n) g.push(n);
          });
          window.__growthObserver.observe(chat, { subtree: true, childList: true, characterData: true });
        }
        """;

    private readonly List<string> _pageErrors = [];

    private TestPage(IPage page)
    {
        Page = page;
        page.PageError += (_, error) =>
        {
            lock (_pageErrors)
            {
                _pageErrors.Add(error);
            }
        };
    }

    public IPage Page { get; }

    public ILocator Status => ById("status");

    public ILocator Question => ById("question");

    public ILocator Send => ById("send");

    public ILocator Cancel => ById("cancel");

    public ILocator Clear => ById("clear");

    public ILocator OriginStream => ById("origin-stream");

    public ILocator OpenAiParameter => ById("openai-parameter");

    public ILocator Temperature => ById("temperature");

    public ILocator Token => ById("token");

    public ILocator LastAnswer => ById("answer").Last;

    public ILocator LastAnswerError => ById("answer-error").Last;

    public ILocator LastStats => ById("answer-stats").Last;

    public ILocator RawFrames => ById("raw-frame");

    /// <summary>JavaScript errors thrown in the page so far.</summary>
    public IReadOnlyList<string> PageErrors
    {
        get
        {
            lock (_pageErrors)
            {
                return [.. _pageErrors];
            }
        }
    }

    /// <summary>Opens <paramref name="url"/> in a new tab of <paramref name="context"/>.</summary>
    public static async Task<TestPage> OpenAsync(IBrowserContext context, Uri url, ViewportSize? viewport = null)
    {
        var page = await context.NewPageAsync();
        if (viewport is not null)
        {
            await page.SetViewportSizeAsync(viewport.Width, viewport.Height);
        }

        var testPage = new TestPage(page);
        await page.GotoAsync(url.ToString(), new PageGotoOptions { WaitUntil = WaitUntilState.DOMContentLoaded });
        return testPage;
    }

    public Task WaitConnectedAsync() => Expect(Status).ToHaveAttributeAsync("data-state", "connected");

    public ILocator ById(string testId) => Page.GetByTestId(testId);

    /// <summary>Types the question and presses Send; returns the new answer's seq.</summary>
    public async Task<string> AskAsync(string question)
    {
        var before = await ById("answer").CountAsync();
        await Page.EvaluateAsync(RecordGrowthScript);
        await Question.FillAsync(question);
        await Send.ClickAsync();
        await Expect(ById("answer")).ToHaveCountAsync(before + 1);
        return (await LastAnswer.GetAttributeAsync("data-seq"))!;
    }

    /// <summary>Waits until the newest answer's stream ended with <paramref name="state"/> (done, cancelled, error).</summary>
    public Task WaitAnswerStateAsync(string state) => Expect(LastAnswer).ToHaveAttributeAsync("data-state", state);

    /// <summary>Waits until the newest answer has received at least <paramref name="frames"/> content frames.</summary>
    public Task WaitFramesAsync(int frames) =>
        Page.WaitForFunctionAsync(
            "n => { const a = [...document.querySelectorAll('[data-testid=answer]')].pop(); return !!a && Number(a.dataset.frames) >= n; }",
            frames);

    /// <summary>The lengths the newest answer went through while streaming, recorded since the last <see cref="AskAsync"/>.</summary>
    public async Task<int[]> GrowthAsync() => await Page.EvaluateAsync<int[]>("() => window.__growth || []");

    public async Task<string> AnswerTextAsync() => await LastAnswer.TextContentAsync() ?? string.Empty;

    public async Task<string?> AnswerDataAsync(string name) => await LastAnswer.GetAttributeAsync("data-" + name);

    /// <summary>The frames of the raw panel in one direction ("out" or "in"), parsed.</summary>
    public async Task<List<JsonElement>> RawJsonAsync(string direction)
    {
        var texts = await Page.Locator($"[data-testid=raw-frame][data-dir={direction}] [data-testid=raw-json]").AllTextContentsAsync();
        var list = new List<JsonElement>();
        foreach (var text in texts)
        {
            using var doc = JsonDocument.Parse(text);
            list.Add(doc.RootElement.Clone());
        }

        return list;
    }

    /// <summary>Saves a screenshot under artifacts/screenshots/ and prints its path.</summary>
    public async Task<string> ScreenshotAsync(string name, bool fullPage = false)
    {
        var path = Screenshots.PathFor(name);
        await Page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = fullPage, Animations = ScreenshotAnimations.Disabled });
        Screenshots.Announce(path);
        return path;
    }

    public async ValueTask DisposeAsync() => await Page.CloseAsync();
}
