#!/usr/bin/env bash
# Diagnostic runs, not the benchmark: measure what two suspected costs of the daemon are worth, without editing it.
#   nodelay   LD_PRELOAD a shim that sets TCP_NODELAY on every socket the daemon accepts (HttpListener does not).
#   nospin    DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0 (thread-pool workers stop spinning before they sleep).
#   both      both of them.
# Usage: bench/diag/diagnose.sh nodelay|nospin|both [more GptWsBench run flags]   → bench/results/diag-<name>/latest.md
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bench="$(cd "$here/.." && pwd)"
what="${1:?usage: diagnose.sh nodelay|nospin|both [flags]}"
shift
out="$bench/results/diag-$what"
mkdir -p "$out"
env=()
if [ "$what" = nodelay ] || [ "$what" = both ]; then
  gcc -O2 -shared -fPIC -o "$out/nodelay_shim.so" "$here/nodelay_shim.c" -ldl
  env+=(--daemon-env "LD_PRELOAD=$out/nodelay_shim.so")
fi
if [ "$what" = nospin ] || [ "$what" = both ]; then
  env+=(--daemon-env DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0)
fi
exec "$bench/run.sh" --out "$out" --paths floor,origin,sentence --idle 0 "${env[@]}" "$@"
