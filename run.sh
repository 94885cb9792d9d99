#!/usr/bin/env bash
# Builds GptWsDaemon (Release) when the build is missing or older than the sources, then runs it in the foreground.
# All flags pass through: ./run.sh --port 9000 --api-key sk-...   (see ./run.sh --help)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/GptWsDaemon/bin/Release/net10.0"
dll="$out/GptWsDaemon.dll"

stale() {
  [ ! -f "$dll" ] && return 0
  # Any source, project or resource newer than the build means rebuild.
  [ -n "$(find "$here/GptWsDaemon" "$here/Directory.Build.props" "$here/Directory.Packages.props" \
      -path "$here/GptWsDaemon/bin" -prune -o -path "$here/GptWsDaemon/obj" -prune -o \
      -type f -newer "$dll" -print -quit)" ]
}

if stale; then
  echo "run.sh: building GptWsDaemon (Release)…" >&2
  log="$(mktemp)"
  if ! dotnet build "$here/GptWsDaemon/GptWsDaemon.csproj" -c Release -nologo >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"; exit 1
  fi
  rm -f "$log"
fi

# exec: signals sent to this PID reach the daemon itself.
exec dotnet "$dll" "$@"
