#!/usr/bin/env bash
# The GptWsDaemon benchmark, in one command (well under 10 minutes on a 2-core machine):
#   builds the daemon (Release) and bench/GptWsBench, installs the peer (Portkey) into bench/node_modules if missing,
#   then GptWsBench runs the fake upstream, the floor / daemon / peer paths at 1, 100 and 1,000 concurrent streams,
#   the 10,000-connection idle test, prints the table and a last line "headline: …", and writes bench/results/latest.md.
# Everything runs on loopback. Extra flags go to `GptWsBench run` (see `dotnet bench/GptWsBench/bin/Release/net10.0/GptWsBench.dll --help`),
# e.g. bench/run.sh --concurrency 1,100 --idle 0 for a quick look.
set -euo pipefail
bench="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$bench/.." && pwd)"
out="$bench/results"
mkdir -p "$out"

# 10,000 idle WebSockets plus the load need more descriptors than the usual 1,024 (each process has its own limit).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

build() {
  local log="$out/build.log"
  if ! dotnet build "$1" -c Release -nologo >"$log" 2>&1; then
    cat "$log" >&2
    echo "run.sh: build of $1 failed" >&2
    exit 1
  fi
}
echo "run.sh: building GptWsDaemon and GptWsBench (Release)…" >&2
build "$repo/GptWsDaemon/GptWsDaemon.csproj"
build "$bench/GptWsBench/GptWsBench.csproj"

# The peer: Portkey's open-source gateway from npm, version pinned in bench/package.json. If it cannot be had,
# the run still completes and the peer column says why.
peer=()
portkey="$bench/node_modules/@portkey-ai/gateway/build/start-server.js"
if [ ! -f "$portkey" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    peer=(--peer-unavailable "npm not found: Portkey (npm @portkey-ai/gateway) not installed")
  else
    echo "run.sh: installing the peer (npm @portkey-ai/gateway) into bench/node_modules…" >&2
    if ! npm install --prefix "$bench" --no-package-lock --no-audit --no-fund >"$out/npm.log" 2>&1; then
      peer=(--peer-unavailable "npm install @portkey-ai/gateway failed: $(tail -n 1 "$out/npm.log")")
    fi
  fi
fi
if [ ${#peer[@]} -eq 0 ]; then
  if [ ! -f "$portkey" ]; then
    peer=(--peer-unavailable "Portkey not found at bench/node_modules/@portkey-ai/gateway after npm install")
  elif ! command -v node >/dev/null 2>&1; then
    peer=(--peer-unavailable "node not found")
  else
    peer=(--portkey "$portkey" --portkey-preload "$bench/portkey-loopback.mjs")
  fi
fi

model="$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)"
mem="$(awk '/MemTotal/ {printf "%.1f GiB RAM", $2 / 1048576}' /proc/meminfo)"
machine="$(nproc) cores (nproc), ${model:-unknown CPU} (lscpu), $mem, $(uname -sr)"

exec dotnet "$bench/GptWsBench/bin/Release/net10.0/GptWsBench.dll" run \
  --daemon-dll "$repo/GptWsDaemon/bin/Release/net10.0/GptWsDaemon.dll" \
  --out "$out" \
  --machine "$machine" \
  "${peer[@]}" \
  "$@"
