#!/usr/bin/env bash
# GC and allocation trace of the daemon under the 1,000-stream origin load (a diagnostic, not the benchmark):
# starts GptWsBench for the floor and origin paths at C=1000, attaches dotnet-trace (GC keyword, verbose: allocation
# ticks, pauses, suspensions) to the daemon for 8 s of the measured window, then summarises it with TraceSummary.
# Needs dotnet-trace (dotnet tool install -g dotnet-trace). Usage: bench/diag/gc-trace.sh [more GptWsBench run flags]
# (one daemon: httplistener; --engines kestrel traces the Kestrel engine instead)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bench="$(cd "$here/.." && pwd)"
repo="$(cd "$bench/.." && pwd)"
out="$bench/results/diag-gc"
mkdir -p "$out"
export PATH="$PATH:$HOME/.dotnet/tools"
command -v dotnet-trace >/dev/null || { echo "gc-trace.sh: dotnet-trace not found (dotnet tool install -g dotnet-trace)" >&2; exit 1; }
. "$here/daemon-under-load.sh"
dotnet build "$here/TraceSummary/TraceSummary.csproj" -c Release -nologo >"$out/trace-build.log" 2>&1
rm -f "$out/daemon.nettrace"
start_daemon_under_load "$out" floor,origin "$@"
sleep 7 # the origin cell's warm-up
dotnet-trace collect -p "$pid" --providers "Microsoft-Windows-DotNETRuntime:0x1:5" --duration 00:00:00:08 -o "$out/daemon.nettrace" >/dev/null
wait "$runner" || true
grep "C=1000" "$out/bench.log"
dotnet "$here/TraceSummary/bin/Release/net10.0/TraceSummary.dll" "$out/daemon.nettrace"
