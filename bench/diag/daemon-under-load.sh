# Sourced by the diagnostics that attach a tool to the daemon during a 1,000-stream cell (gc-trace.sh, cpu-profile.sh).
# start_daemon_under_load OUT PATHS [GptWsBench run flags]: builds the daemon and the bench, starts GptWsBench for the
# floor and PATHS at C=1000 on the HttpListener engine in the background (its log in OUT/bench.log), and returns once
# the floor cell is done, with the daemon's pid in $pid and the bench's in $runner; the daemon cell's warm-up follows.
start_daemon_under_load() {
  local out="$1" paths="$2"
  shift 2
  dotnet build "$repo/GptWsDaemon/GptWsDaemon.csproj" -c Release -nologo >"$out/build.log" 2>&1
  dotnet build "$bench/GptWsBench/GptWsBench.csproj" -c Release -nologo >>"$out/build.log" 2>&1
  rm -f "$out/bench.log"
  dotnet "$bench/GptWsBench/bin/Release/net10.0/GptWsBench.dll" run \
    --daemon-dll "$repo/GptWsDaemon/bin/Release/net10.0/GptWsDaemon.dll" --concurrency 1000 --idle 0 \
    --peer-unavailable "not part of this diagnostic" --paths "$paths" --engines httplistener --out "$out" "$@" >"$out/bench.log" 2>&1 &
  runner=$!
  pid=""
  for _ in $(seq 1 240); do
    [ -z "$pid" ] && pid="$(sed -n 's/^\[bench\] daemon pid \([0-9]*\) .*/\1/p' "$out/bench.log" 2>/dev/null)"
    grep -q "C=1000 floor " "$out/bench.log" 2>/dev/null && break
    sleep 0.5
  done
  [ -n "$pid" ] || { echo "$(basename "$0"): no daemon pid in $out/bench.log" >&2; kill "$runner"; exit 1; }
}
