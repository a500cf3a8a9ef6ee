#!/usr/bin/env bash
# Starts a throwaway PostgreSQL 15 server (a temp data directory, a free loopback port; as the `postgres` user
# when run as root, since PostgreSQL refuses to run as root), runs `careledger bench import` against it, and
# stops and deletes it afterwards. Extra arguments go to the benchmark (e.g. --resources 200000).
set -euo pipefail
cd "$(dirname "$0")/.."

bindir="$(pg_config --bindir 2>/dev/null || true)"
[ -x "$bindir/initdb" ] || bindir=/usr/lib/postgresql/15/bin
[ -x "$bindir/initdb" ] || { echo "PostgreSQL 15 server binaries not found: apt-get install -y postgresql-15" >&2; exit 69; }

base="$(mktemp -d /tmp/careledger-bench-pg.XXXXXX)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
as_pg=()
if [ "$(id -u)" = 0 ]; then
  chown postgres "$base"
  as_pg=(runuser -u postgres --)
fi
stop() {
  "${as_pg[@]}" "$bindir/pg_ctl" -D "$base/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$base"
}
trap stop EXIT

"${as_pg[@]}" "$bindir/initdb" -D "$base/data" -U postgres -A trust >/dev/null
"${as_pg[@]}" "$bindir/pg_ctl" -D "$base/data" -l "$base/data/log" -w \
  -o "-p $port -k $base -c listen_addresses=127.0.0.1 -c shared_buffers=256MB -c max_wal_size=4GB" start >/dev/null

swift build -c release --product careledger >/dev/null
PATH="$bindir:$PATH" ${CARELEDGER_BENCH_WRAPPER:-} .build/release/careledger bench import --server "postgres://postgres@127.0.0.1:$port/postgres" "$@"
