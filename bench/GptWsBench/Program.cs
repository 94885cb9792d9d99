using GptWsBench;
using GptWsBench.Upstream;

// GptWsBench run …       the whole benchmark (bench/run.sh calls this)
// GptWsBench upstream …  the fake OpenAI upstream alone, for poking at a gateway by hand
// GptWsBench relay …     the bare TCP relay (calibration path), started by `run` as its own process
if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.Out.WriteLine("usage: GptWsBench run --daemon-dll PATH [--portkey start-server.js --portkey-preload loopback.mjs] [--out DIR]");
    Console.Out.WriteLine("         [--tokens 50] [--delay-ms 10] [--delay-ms-at-1000 50] [--prompt-bytes 0] [--concurrency 1,100,1000]");
    Console.Out.WriteLine("         [--window-s 1:20,100:5,1000:7.5] [--idle 10000] [--phase-limit-s 90] [--daemon-env K=V]… [--machine TEXT]");
    Console.Out.WriteLine("         [--paths floor,relay,origin,sentence,peer] [--engines httplistener,kestrel]   (every daemon path and the idle test once per engine)");
    Console.Out.WriteLine("         [--baseline-dll PATH]   (an A/B in one run: every engine also as ENGINE@baseline from that build, compared side by side)");
    Console.Out.WriteLine("       GptWsBench upstream [--port 0] [--tokens 50] [--delay-ms 10]");
    Console.Out.WriteLine("       GptWsBench relay --port PORT --target 127.0.0.1:PORT   (the bare TCP relay of the calibration path)");
    return args.Length == 0 ? 2 : 0;
}

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};

try
{
    switch (args[0])
    {
        case "run":
            return await BenchRun.RunAsync(BenchOptions.Parse(args[1..]), stop.Token);
        case "upstream":
        {
            int Flag(string name, int fallback)
            {
                var i = Array.IndexOf(args, name);
                return i > 0 && i + 1 < args.Length ? int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture) : fallback;
            }

            var plan = new UpstreamPlan(new TokenScript(Flag("--tokens", 50)), TimeSpan.FromMilliseconds(Flag("--delay-ms", 10)), 0);
            await using var upstream = new FakeUpstream(plan, Flag("--port", 0));
            Console.Out.WriteLine("fake upstream: " + upstream.BaseUrl + " (Ctrl-C stops)");
            try
            {
                await Task.Delay(Timeout.Infinite, stop.Token);
            }
            catch (OperationCanceledException)
            {
            }

            return 0;
        }

        case "relay":
        {
            var port = args.Length > 2 && args[1] == "--port" ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : throw new ArgumentException("relay needs --port PORT --target HOST:PORT");
            var target = args.Length > 4 && args[3] == "--target" ? System.Net.IPEndPoint.Parse(args[4]) : throw new ArgumentException("relay needs --port PORT --target HOST:PORT");
            await GptWsBench.Gateways.TcpRelay.RunAsync(port, target, stop.Token);
            return 0;
        }

        default:
            await Console.Error.WriteLineAsync("unknown command " + args[0] + " (try --help)");
            return 2;
    }
}
catch (ArgumentException e)
{
    await Console.Error.WriteLineAsync("GptWsBench: " + e.Message);
    return 2;
}
