#!/usr/bin/env bash
# Runs the whole test suite (unit, end-to-end over loopback, real process, browser, nginx) and ends with
# one line "N passed, M failed". `./test.sh --fast` runs only the unit and loopback tests (categories unit, loopback;
# the others are process, browser, nginx). Extra arguments go to `dotnet test` (e.g. --filter "FullyQualifiedName~Sse").
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
results="$here/artifacts/test-results"
rm -rf "$results"
mkdir -p "$results"

# --fast: only the unit and in-process loopback tests (no child processes, browser or nginx).
args=()
for a in "$@"; do
  if [ "$a" = "--fast" ]; then fast=1; args+=(--filter "TestCategory=unit|TestCategory=loopback"); else args+=("$a"); fi
done
# One test worker unless --fast: the fast kinds wait on sockets and clocks, so they share the cores well.
workers=1
[ "${fast:-0}" = 1 ] && workers=4

dotnet test "$here/GptWsDaemon.Tests/GptWsDaemon.Tests.csproj" -c Release \
  --logger "trx;LogFileName=results.trx" --logger "console;verbosity=normal" \
  --results-directory "$results" ${args[@]+"${args[@]}"} -- NUnit.NumberOfTestWorkers=$workers
status=$?

passed=0; failed=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  e=$(sed -n 's/.* error="\([0-9]*\)".*/\1/p' <<<"$counters")
  t=$(sed -n 's/.* timeout="\([0-9]*\)".*/\1/p' <<<"$counters")
  a=$(sed -n 's/.* aborted="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0} + ${e:-0} + ${t:-0} + ${a:-0}))
done
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1  # the run itself broke (build error, crashed host): never report green
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
