#!/usr/bin/env bash
# Runs `careledger bench contracts` (issue 18 point 8) on the release build in .build-release, building it first
# unless CARELEDGER_BIN names another binary; part 4 then times that same binary as a child process. Extra arguments
# go to the benchmark (e.g. --claimants 1000 --seconds 0.5 --data uniform,skewed).
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${CARELEDGER_BIN:-}"
if [ -z "$bin" ]; then
  swift build -c release --scratch-path .build-release --product careledger >/dev/null
  bin="$(pwd)/.build-release/release/careledger"
fi
[ -x "$bin" ] || { echo "no careledger binary at $bin" >&2; exit 69; }
echo "careledger bench contracts at $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
exec "$bin" bench contracts "$@"
