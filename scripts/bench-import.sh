#!/usr/bin/env bash
# Runs `careledger bench import` against a throwaway PostgreSQL 15 server (scripts/with-postgres.sh), which is
# stopped and deleted afterwards. Extra arguments go to the benchmark (e.g. --resources 200000).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product careledger >/dev/null
CARELEDGER_PG_OPTIONS="-c shared_buffers=256MB -c max_wal_size=4GB" exec scripts/with-postgres.sh \
  sh -c '${CARELEDGER_BENCH_WRAPPER:-} .build/release/careledger bench import --server "$CARELEDGER_PG_URL" "$@"' bench-import "$@"
