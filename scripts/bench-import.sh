#!/usr/bin/env bash
# Runs `careledger bench import` against a throwaway PostgreSQL 15 server (scripts/with-postgres.sh), which is
# stopped and deleted afterwards. Extra arguments go to the benchmark (e.g. --resources 200000).
# It uses the release build in .build-release (as scripts/bench-http.sh does), building it first unless
# CARELEDGER_BIN names another binary.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${CARELEDGER_BIN:-}"
if [ -z "$bin" ]; then
  swift build -c release --scratch-path .build-release --product careledger >/dev/null
  bin="$(pwd)/.build-release/release/careledger"
fi
[ -x "$bin" ] || { echo "no careledger binary at $bin" >&2; exit 69; }
CARELEDGER_BENCH_BIN="$bin" CARELEDGER_PG_OPTIONS="-c shared_buffers=256MB -c max_wal_size=4GB" exec scripts/with-postgres.sh \
  sh -c '${CARELEDGER_BENCH_WRAPPER:-} "$CARELEDGER_BENCH_BIN" bench import --server "$CARELEDGER_PG_URL" "$@"' bench-import "$@"
