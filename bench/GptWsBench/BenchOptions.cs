using System.Globalization;

namespace GptWsBench;

/// <summary>Flags of <c>GptWsBench run</c> (bench/run.sh passes them; every one has a default that fits the 10-minute budget).</summary>
public sealed class BenchOptions
{
    private readonly Dictionary<string, string> _daemonEnvironment = [];
    private readonly Dictionary<string, string> _variants = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Dictionary<string, string>> _variantEnv = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _variantData = new(StringComparer.Ordinal);

    /// <summary>GptWsDaemon.dll (Release build).</summary>
    public string DaemonDll { get; private set; } = string.Empty;

    /// <summary>
    /// A second build to measure in the same run (<c>--baseline-dll</c>, an A/B of a change): each engine then runs twice,
    /// <c>ENGINE@baseline</c> from this DLL first (the reference of the side-by-side table), then <c>ENGINE</c>.
    /// </summary>
    public string? BaselineDll { get; private set; }

    /// <summary>
    /// Configuration variants to measure beside the plain daemon (<c>--variant NAME=INI</c>, <c>\n</c> for new lines):
    /// every engine then also runs as <c>ENGINE@NAME</c> with that ini text added, e.g. quotas on. <c>{redis}</c> in the
    /// text is replaced by the URL of a redis-server the bench starts for the run.
    /// </summary>
    public IReadOnlyDictionary<string, string> Variants => _variants;

    /// <summary>The engine, the DLL and the extra ini text of a daemon label of <see cref="Engines"/>.</summary>
    public (string Engine, string Dll) Variant(string label) => Split(label) is var (engine, name) && name == "baseline" ? (engine, BaselineDll!) : (engine, DaemonDll);

    /// <summary>The environment of a daemon label: <see cref="DaemonEnvironment"/> and its variant's own (<c>--variant-env NAME:K=V</c>).</summary>
    public Dictionary<string, string> EnvironmentOf(string label)
    {
        var env = new Dictionary<string, string>(_daemonEnvironment);
        if (Split(label).Name is { } name && _variantEnv.TryGetValue(name, out var own))
        {
            foreach (var (k, v) in own)
            {
                env[k] = v;
            }
        }

        return env;
    }

    /// <summary>The extra ini text of a daemon label (empty for the plain daemon and the baseline).</summary>
    public string ExtraIni(string label) => Split(label).Name is { } name && _variants.TryGetValue(name, out var ini) ? ini : string.Empty;

    /// <summary>JSON members a daemon label's clients add to every request's data (<c>--variant-data NAME=FIELDS</c>), or empty.</summary>
    public string ExtraData(string label) => Split(label).Name is { } name && _variantData.TryGetValue(name, out var data) ? data : string.Empty;

    private static (string Engine, string? Name) Split(string label) =>
        label.IndexOf('@', StringComparison.Ordinal) is var at and > 0 ? (label[..at], label[(at + 1)..]) : (label, null);

    private const string BaselineSuffix = "@baseline";

    /// <summary>Variants measured before the plain daemon in every cell (<c>--variants-first</c>), to see the order's bias.</summary>
    public bool VariantsFirst { get; private set; }

    /// <summary>The redis-server URL for <c>{redis}</c> in a variant, set by the run when one needs it.</summary>
    public string? RedisUrl { get; set; }

    /// <summary>Portkey's build/start-server.js, or null.</summary>
    public string? PortkeyScript { get; private set; }

    /// <summary>Preload that binds Portkey to 127.0.0.1.</summary>
    public string? PortkeyPreload { get; private set; }

    /// <summary>Why the peer cannot run (set by run.sh when the install failed).</summary>
    public string? PeerUnavailable { get; private set; }

    /// <summary>Where latest.md and the gateway logs go.</summary>
    public string OutDir { get; private set; } = "results";

    /// <summary>Tokens per stream.</summary>
    public int Tokens { get; private set; } = 50;

    /// <summary>Delay between tokens below 1,000 streams.</summary>
    public int DelayMs { get; private set; } = 10;

    /// <summary>Delay between tokens at 1,000 streams and more.</summary>
    public int DelayMsAt1000 { get; private set; } = 50;

    /// <summary>Extra bytes of text in every request's user message (0: a two-word question), for long-prompt runs.</summary>
    public int PromptBytes { get; private set; }

    /// <summary>Concurrency levels.</summary>
    public IReadOnlyList<int> Concurrency { get; private set; } = [1, 100, 1000];

    /// <summary>Measured window per concurrency, in seconds: recorded streams are those that start inside it.</summary>
    public IReadOnlyDictionary<int, double> Window { get; private set; } = new Dictionary<int, double> { [1] = 20, [100] = 5, [1000] = 7.5 };

    /// <summary>Count the gateways' system calls per token in every window with perf (<c>--syscalls</c>; needs root).</summary>
    public bool Syscalls { get; private set; }

    /// <summary>Idle connections held in the idle test (0 skips it).</summary>
    public int Idle { get; private set; } = 10000;

    /// <summary>Time limit of one phase.</summary>
    public TimeSpan PhaseLimit { get; private set; } = TimeSpan.FromSeconds(90);

    /// <summary>Extra environment for the daemon processes (diagnostics: e.g. LD_PRELOAD of bench/diag's shim); empty for the real run.</summary>
    public IReadOnlyDictionary<string, string> DaemonEnvironment => _daemonEnvironment;

    /// <summary>Paths to run (floor, relay, origin, sentence, peer); all by default. Without the floor nothing "added" can be computed.</summary>
    public IReadOnlySet<string> Paths { get; private set; } = new HashSet<string> { "floor", "relay", "origin", "sentence", "peer" };

    /// <summary>The daemon's HTTP engines (its <c>--engine</c>): every daemon path and the idle test run once per engine, each on its own daemon.</summary>
    public IReadOnlyList<string> Engines { get; private set; } = ["httplistener", "kestrel"];

    /// <summary>Machine description for the report.</summary>
    public string? Machine { get; private set; }

    /// <summary>Delay between tokens at concurrency <paramref name="c"/>.</summary>
    public TimeSpan DelayAt(int c) => TimeSpan.FromMilliseconds(c >= 1000 ? DelayMsAt1000 : DelayMs);

    /// <summary>One stream's length at concurrency <paramref name="c"/>.</summary>
    public TimeSpan StreamLengthAt(int c) => DelayAt(c) * Tokens;

    /// <summary>The measured window at concurrency <paramref name="c"/> (default: 3 stream lengths).</summary>
    public TimeSpan WindowAt(int c) => Window.TryGetValue(c, out var s) ? TimeSpan.FromSeconds(s) : StreamLengthAt(c) * 3;

    /// <summary>Unrecorded warm-up before the window: the ramp (one stream length when C &gt; 1) plus one stream length at full concurrency.</summary>
    public TimeSpan WarmupAt(int c) => StreamLengthAt(c) * (c > 1 ? 2 : 1);

    /// <summary>Parses <c>--name value</c> pairs.</summary>
    /// <exception cref="ArgumentException">An unknown flag or a bad value.</exception>
    public static BenchOptions Parse(IReadOnlyList<string> args)
    {
        var o = new BenchOptions();
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{name} needs a value");
            switch (name)
            {
                case "--daemon-dll": o.DaemonDll = Value(); break;
                case "--baseline-dll": o.BaselineDll = Path.GetFullPath(Value()); break;
                case "--variant-env":
                    // NAME:K=V — a variant of the same build and ini with this environment (a GC setting, say).
                    var spec = Value().Split(':', 2);
                    var kv = spec[1].Split('=', 2);
                    if (!o._variantEnv.TryGetValue(spec[0], out var envOf))
                    {
                        o._variantEnv[spec[0]] = envOf = [];
                    }

                    envOf[kv[0]] = kv.Length > 1 ? kv[1] : string.Empty;
                    o._variants.TryAdd(spec[0], string.Empty);
                    break;
                case "--variant-data":
                    // NAME=FIELDS — JSON members added to the data of every request to that variant ("resumable":true, say).
                    var data = Value().Split('=', 2);
                    o._variantData[data[0]] = data.Length > 1 ? data[1] : string.Empty;
                    o._variants.TryAdd(data[0], string.Empty);
                    break;
                case "--variant":
                    var variant = Value().Split('=', 2);
                    o._variants[variant[0]] = variant.Length > 1 ? variant[1].Replace("\\n", "\n", StringComparison.Ordinal) : string.Empty;
                    break;
                case "--portkey": o.PortkeyScript = Value(); break;
                case "--portkey-preload": o.PortkeyPreload = Value(); break;
                case "--peer-unavailable": o.PeerUnavailable = Value(); break;
                case "--out": o.OutDir = Value(); break;
                case "--tokens": o.Tokens = Int(Value()); break;
                case "--delay-ms": o.DelayMs = Int(Value()); break;
                case "--delay-ms-at-1000": o.DelayMsAt1000 = Int(Value()); break;
                case "--prompt-bytes": o.PromptBytes = Int(Value()); break;
                case "--concurrency": o.Concurrency = [.. Value().Split(',').Select(Int)]; break;
                case "--window-s": o.Window = Map(Value()); break;
                case "--idle": o.Idle = Int(Value()); break;
                case "--phase-limit-s": o.PhaseLimit = TimeSpan.FromSeconds(Int(Value())); break;
                case "--machine": o.Machine = Value(); break;
                case "--paths": o.Paths = Value().Split(',').ToHashSet(StringComparer.Ordinal); break;
                case "--engines": o.Engines = EngineList(Value()); break;
                case "--variants-first": o.VariantsFirst = true; break;
                case "--syscalls": o.Syscalls = true; break;
                case "--daemon-env":
                    var pair = Value().Split('=', 2);
                    o._daemonEnvironment[pair[0]] = pair.Length > 1 ? pair[1] : string.Empty;
                    break;
                default: throw new ArgumentException("unknown flag " + name);
            }
        }

        o.OutDir = Path.GetFullPath(o.OutDir);
        o.DaemonDll = o.DaemonDll.Length == 0 ? o.DaemonDll : Path.GetFullPath(o.DaemonDll);
        o.PortkeyScript = o.PortkeyScript is null ? null : Path.GetFullPath(o.PortkeyScript);
        o.PortkeyPreload = o.PortkeyPreload is null ? null : Path.GetFullPath(o.PortkeyPreload);
        if (o.DaemonDll.Length == 0 || !File.Exists(o.DaemonDll))
        {
            throw new ArgumentException("--daemon-dll must name the built GptWsDaemon.dll");
        }

        if (o._variants.Count > 0)
        {
            // --variants-first swaps the measuring order (the later daemon of a cell is measured seconds after the earlier).
            o.Engines = [.. o.Engines.SelectMany(e => o.VariantsFirst
                ? o._variants.Keys.Select(v => e + "@" + v).Append(e)
                : new[] { e }.Concat(o._variants.Keys.Select(v => e + "@" + v)))];
        }

        if (o.BaselineDll is not null)
        {
            o.Engines = File.Exists(o.BaselineDll)
                ? [.. o.Engines.SelectMany(e => new[] { e + BaselineSuffix, e })]
                : throw new ArgumentException("--baseline-dll must name a built GptWsDaemon.dll");
        }

        return o;
    }

    private static string[] EngineList(string s)
    {
        var engines = s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct(StringComparer.Ordinal).ToArray();
        return engines.Length > 0 && engines.All(e => e is "httplistener" or "kestrel")
            ? engines
            : throw new ArgumentException("--engines takes httplistener, kestrel or both (comma-separated), not " + s);
    }

    private static int Int(string s) => int.Parse(s, NumberStyles.Integer, CultureInfo.InvariantCulture);

    private static Dictionary<int, double> Map(string s) =>
        s.Split(',').Select(p => p.Split(':')).ToDictionary(p => Int(p[0]), p => double.Parse(p[1], CultureInfo.InvariantCulture));
}
