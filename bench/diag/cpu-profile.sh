#!/usr/bin/env bash
# Where the daemon's CPU goes under the 1,000-stream load (a diagnostic, not the benchmark): starts GptWsBench for the
# floor and one daemon path at C=1000, records the daemon with `perf record` (perf map on, so JIT frames have names)
# for 8 s of the measured window, then prints the hottest symbols (self time) and the split by module.
# Usage: bench/diag/cpu-profile.sh [origin|sentence] [more GptWsBench run flags]   → bench/results/diag-cpu/
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bench="$(cd "$here/.." && pwd)"
repo="$(cd "$bench/.." && pwd)"
mode="${1:-origin}"
shift || true
out="$bench/results/diag-cpu"
mkdir -p "$out"
ulimit -n 65536 2>/dev/null || true
. "$here/daemon-under-load.sh"
rm -f "$out/perf.data"
start_daemon_under_load "$out" "floor,$mode" --daemon-env DOTNET_PerfMapEnabled=1 --daemon-env DOTNET_EnableWriteXorExecute=0 "$@"
sleep 7 # the cell's warm-up
perf record -F 999 -g -p "$pid" -o "$out/perf.data" -- sleep 8 >/dev/null 2>&1
wait "$runner" || true
grep "C=1000" "$out/bench.log"
perf report -i "$out/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null | grep -v "^#" | grep -v "^$" | head -12 || true
perf report -i "$out/perf.data" --no-children --sort sym --stdio -g none 2>/dev/null | grep -v "^#" | grep -v "^$" | head -60 || true
