#!/usr/bin/env bash
# Runs a command beside a throwaway PostgreSQL 15 server (a temp data directory, a free loopback port; as the
# `postgres` user when run as root, since PostgreSQL refuses to run as root), with its URL in CARELEDGER_PG_URL and
# its binaries (psql) first on PATH, then stops and deletes the server. Extra server settings:
# CARELEDGER_PG_OPTIONS (e.g. "-c shared_buffers=256MB"). Example:
#   scripts/with-postgres.sh sh -c '.build/release/careledger bench anchoring --store "$CARELEDGER_PG_URL"'
set -euo pipefail

bindir="$(pg_config --bindir 2>/dev/null || true)"
[ -x "$bindir/initdb" ] || bindir=/usr/lib/postgresql/15/bin
[ -x "$bindir/initdb" ] || { echo "PostgreSQL 15 server binaries not found: apt-get install -y postgresql-15" >&2; exit 69; }

base="$(mktemp -d /tmp/careledger-pg.XXXXXX)"
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
  -o "-p $port -k $base -c listen_addresses=127.0.0.1 ${CARELEDGER_PG_OPTIONS:-}" start >/dev/null
PATH="$bindir:$PATH" CARELEDGER_PG_URL="postgres://postgres@127.0.0.1:$port/postgres" "$@"
