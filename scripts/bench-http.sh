#!/usr/bin/env bash
# The gateway's HTTP benchmarks (issue 17, Deliver 9), on loopback, each beside a reference measured in the same run:
#   1. a consent-checked Patient read by a partner        beside the same server's static GET /health;
#   2. a partner's search Observation?patient=…&_count=50 beside GET /health (the goal is on its p99);
#   3. transaction Bundle writes (resources/s) by the hospital's own client beside `careledger import` of the same
#      resources into a fresh store (before and after the HTTP writes; the ratio is to their mean).
# Reads and searches run with wrk (Debian's `wrk`, with scripts/bench-http.lua), writes with the small concurrent
# client in scripts/bench_http_data.py. Everything is set up for real: a two-provider testnet (hospital A runs the
# only node it needs, with 100 of 101 voting power; partner B is a participant with the identifier the Consents name),
# B's SMART client registered on the ledger with `careledger client register`, a Consent submitted with `careledger
# consent submit`, tokens from client assertions (scripts/smart_token.py, ES384), `careledger serve` as its own process.
#
# Data sets: `samples` (Samples/bulk and Samples/consent: a patient with 2 Observations) and `synthea` (a Synthea
# patient from ../shared/corpus/synthea with 65 Observations and a Consent generated for it); writes use K re-keyed
# copies of the Synthea transaction Bundles.
#
# Usage: scripts/bench-http.sh [--postgres] [--duration S] [--threads T] [--connections C] [--copies K]
#                              [--writers N] [--data samples,synthea] [--skip-writes] [--bin PATH] [--profile DIR]
# --profile DIR records the gateway with `perf record -g` during each read and search run (DIR/read-SET.data,
# DIR/search-SET.data; read them with `perf report -i FILE --no-children`).
# Needs: a release build (swift build -c release --scratch-path .build-release, or --bin), wrk, python3 with PyJWT
# and cryptography (scripts/smart_token.py), openssl; --postgres needs the PostgreSQL 15 server binaries
# (scripts/with-postgres.sh starts a throwaway server and deletes it afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"

profile="" postgres=0 duration=10 threads=2 connections=16 copies=20 writers=4 datasets=samples,synthea skip_writes=0
bin="$repo/.build-release/release/careledger"
while [ $# -gt 0 ]; do
  case "$1" in
    --postgres) postgres=1 ;;
    --duration) duration="$2"; shift ;;
    --threads) threads="$2"; shift ;;
    --connections) connections="$2"; shift ;;
    --copies) copies="$2"; shift ;;
    --writers) writers="$2"; shift ;;
    --data) datasets="$2"; shift ;;
    --skip-writes) skip_writes=1 ;;
    --bin) bin="$2"; shift ;;
    --profile) profile="$2"; shift ;;
    -h|--help) sed -n "2,23p" "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 64 ;;
  esac
  shift
done

if [ "$postgres" = 1 ] && [ -z "${CARELEDGER_PG_URL:-}" ]; then
  CARELEDGER_PG_OPTIONS="-c shared_buffers=256MB -c max_wal_size=4GB" exec scripts/with-postgres.sh "$0" --postgres \
    --duration "$duration" --threads "$threads" --connections "$connections" --copies "$copies" --writers "$writers" \
    --data "$datasets" --bin "$bin" $([ "$skip_writes" = 1 ] && echo --skip-writes) ${profile:+--profile "$profile"}
fi
[ -x "$bin" ] || { echo "no careledger binary at $bin: swift build -c release --scratch-path .build-release" >&2; exit 69; }
command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 69; }
python3 -c 'import jwt, cryptography' 2>/dev/null || { echo "PyJWT and cryptography needed: pip install pyjwt cryptography" >&2; exit 69; }

work="$(mktemp -d /tmp/careledger-bench-http.XXXXXX)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  # How the reads' AuditEvents were grouped into store transactions (serve prints it when it stops).
  grep -h "^audit trail:" "$work/gateway.out" 2>/dev/null | sed 's/^/reads gateway: /' || true
  rm -rf "$work"
}
trap cleanup EXIT

# A store URL by name: a database of the throwaway server, or an SQLite file in the work folder.
store_url() {
  if [ "$postgres" = 1 ]; then
    psql -q "$CARELEDGER_PG_URL" -c "CREATE DATABASE $1" >/dev/null
    echo "${CARELEDGER_PG_URL%/*}/$1"
  else
    echo "sqlite:$work/$1.sqlite"
  fi
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# Waits (up to 120 s) for a file to exist and hold a line matching a pattern.
wait_for() {
  for _ in $(seq 1 480); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.25; done
  echo "timed out waiting for '$2' in $1" >&2; cat "$1" >&2 || true; exit 70
}
# serve NAME STORE: starts `careledger serve` on a free port, sets $base. (The port is chosen here: with --listen
# 127.0.0.1:0 the token URL that assertions' aud must name says port 0.)
serve() {
  "$bin" serve --home "$work/net/node0" --store "$2" --listen "127.0.0.1:$(free_port)" >"$work/$1.out" 2>"$work/$1.log" &
  pids+=($!)
  serve_pid=$!
  wait_for "$work/$1.out" "listening on"
  base="$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$work/$1.out" | head -1)"
}
token() { # CLIENT KEY SCOPE
  python3 scripts/smart_token.py --token-url "$base/auth/token" --client-id "$1" --key "$2" --alg ES384 --kid "$1-1" --scope "$3"
}
# run_wrk LABEL URL [TOKEN]: prints the BENCH line's fields as "rps p50 p99 requests non2xx socket_errors".
run_wrk() {
  local args=(-t"$threads" -c"$connections" -d"${duration}s" --timeout 10s -s scripts/bench-http.lua)
  [ -n "${3:-}" ] && args+=(-H "Authorization: Bearer $3")
  local perf_pid=""
  if [ -n "$profile" ] && [ "${1#health}" = "$1" ]; then
    mkdir -p "$profile"
    perf record -q -F 499 -g -p "$serve_pid" -o "$profile/$1.data" -- sleep "$duration" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  wrk "${args[@]}" "$2" >"$work/wrk-$1.txt"
  [ -z "$perf_pid" ] || wait "$perf_pid" || true
  sed -n 's/^BENCH rps=\([^ ]*\) p50_ms=\([^ ]*\) p99_ms=\([^ ]*\) requests=\([^ ]*\) non2xx=\([^ ]*\) socket_errors=\([^ ]*\)$/\1 \2 \3 \4 \5 \6/p' "$work/wrk-$1.txt"
}
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.2f}')" "$1" "$2"; }
check_status() { # URL TOKEN EXPECTED
  local got; got="$(curl -s -o "$work/check.json" -w '%{http_code}' "$1" -H "Authorization: Bearer $2")"
  [ "$got" = "$3" ] || { echo "GET $1 answered $got, expected $3:" >&2; head -c 600 "$work/check.json" >&2; echo >&2; exit 70; }
}

echo "careledger bench http: $(date -u +%Y-%m-%dT%H:%MZ), $(git rev-parse --short HEAD), $([ "$postgres" = 1 ] && echo PostgreSQL || echo SQLite) stores," \
  "wrk -t$threads -c$connections -d${duration}s, $(nproc) cores"

# The ledger: hospital A (node0, the only node running) and partner B (node1, a participant with B's identifier).
partner_identifier='http://example.org/ids|partner-hospital-b'
p2p="$(free_port)"
while [ "$p2p" -gt 60000 ]; do p2p="$(free_port)"; done
cat >"$work/providers.spec" <<EOF
{"chainId": "careledger-bench-http", "basePort": $p2p, "providers": [
  {"name": "hospital-a", "stake": 100, "identifiers": ["urn:ietf:rfc:3986|urn:oid:2.16.840.1.113883.4.7"]},
  {"name": "partner-b", "stake": 1, "identifiers": ["$partner_identifier"]}]}
EOF
"$bin" testnet init --spec "$work/providers.spec" --dir "$work/net" >/dev/null

read_store="$(store_url bench_read)"
"$bin" import Samples/bulk --store "$read_store" >"$work/import-read.log" 2>&1
synthea_bundle="$(ls ../shared/corpus/synthea/bundles/Lupe_Little_*.json)"
"$bin" import "$synthea_bundle" --store "$read_store" >>"$work/import-read.log" 2>&1
"$bin" node start --home "$work/net/node0" --store "$read_store" >"$work/node.log" 2>&1 &
pids+=($!)
wait_for "$work/net/node0/data/rpc.json" port
cp "$work/net/node0/data/rpc.json" "$work/net/node1/data/rpc.json" # B's `client register` reaches A's node

# Keys: partner B's client on the ledger, the hospital's own EHR client in A's config/clients.json.
for client in partner-b ehr; do
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$work/$client.pem" 2>/dev/null
  python3 scripts/smart_token.py --key "$work/$client.pem" --alg ES384 --kid "$client-1" --print-jwks >"$work/$client.jwks.json"
done
"$bin" client register --home "$work/net/node1" --jwks "$work/partner-b.jwks.json" --scope 'system/Patient.rs system/Observation.rs' \
  --client-id partner-b >"$work/client-register.log" 2>&1 || { cat "$work/client-register.log" >&2; exit 70; }
echo '{"clients":[{"clientId":"ehr","jwksFile":"../../../ehr.jwks.json","scopes":["system/*.cruds"]}]}' >"$work/net/node0/config/clients.json"

# Consents: the sample one (patient MRN-40021) and one generated for the Synthea patient.
"$bin" consent submit Samples/consent/consent-mira-treatment.json --home "$work/net/node0" --store "$read_store" >/dev/null
synthea_identifier="$(python3 scripts/bench_http_data.py consent --bundle "$synthea_bundle" --actor "$partner_identifier" --out "$work/consent-synthea.json")"
"$bin" consent submit "$work/consent-synthea.json" --home "$work/net/node0" --store "$read_store" >/dev/null

serve gateway "$read_store"
ehr_token="$(token ehr "$work/ehr.pem" 'system/*.cruds')"
patient_id() { # IDENTIFIER → the stored Patient's id
  curl -sf -G "$base/Patient" --data-urlencode "identifier=$1" -H "Authorization: Bearer $ehr_token" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["entry"][0]["resource"]["id"])'
}

printf '\n%-38s %12s %9s %9s %10s %8s  %s\n' "reads (partner B, consent-checked)" "req/s" "p50 ms" "p99 ms" "requests" "errors" "ratio"
IFS=, read -ra sets <<<"$datasets"
for set in "${sets[@]}"; do
  case "$set" in
    samples) patient="$(patient_id 'urn:oid:2.16.840.1.113883.4.7.1|MRN-40021')" ;;
    synthea) patient="$(patient_id "$synthea_identifier")" ;;
    *) echo "unknown data set $set (samples, synthea)" >&2; exit 64 ;;
  esac
  ehr_token="$(token ehr "$work/ehr.pem" 'system/*.cruds')"
  partner_token="$(token partner-b "$work/partner-b.pem" 'system/Patient.rs system/Observation.rs')"
  check_status "$base/Patient/$patient" "$partner_token" 200
  check_status "$base/Observation?patient=$patient&_count=50" "$partner_token" 200
  matches="$(python3 -c 'import json; b=json.load(open("'"$work"'/check.json")); print(sum(1 for e in b.get("entry", []) if e.get("search", {}).get("mode") == "match"))')"
  read -r h_rps h_p50 h_p99 h_n h_err h_sock <<<"$(run_wrk "health-$set" "$base/health")"
  read -r r_rps r_p50 r_p99 r_n r_err r_sock <<<"$(run_wrk "read-$set" "$base/Patient/$patient" "$partner_token")"
  read -r s_rps s_p50 s_p99 s_n s_err s_sock <<<"$(run_wrk "search-$set" "$base/Observation?patient=$patient&_count=50" "$partner_token")"
  read -r l_rps l_p50 l_p99 l_n l_err l_sock <<<"$(run_wrk "local-read-$set" "$base/Patient/$patient" "$ehr_token")"
  printf '%-38s %12s %9s %9s %10s %8s  %s\n' "$set: GET /health (reference)" "$h_rps" "$h_p50" "$h_p99" "$h_n" "$((h_err + h_sock))" ""
  printf '%-38s %12s %9s %9s %10s %8s  %s\n' "$set: GET Patient/{id}" "$r_rps" "$r_p50" "$r_p99" "$r_n" "$((r_err + r_sock))" \
    "$(ratio "$r_rps" "$h_rps")x /health (goals: >= 5000 req/s, p99 <= 10 ms, >= 0.40x)"
  printf '%-38s %12s %9s %9s %10s %8s  %s\n' "$set: Observation?patient&_count=50" "$s_rps" "$s_p50" "$s_p99" "$s_n" "$((s_err + s_sock))" \
    "$(ratio "$s_rps" "$h_rps")x /health, $matches matches a page (goal: p99 <= 50 ms)"
  printf '%-38s %12s %9s %9s %10s %8s  %s\n' "$set: GET Patient/{id}, own client" "$l_rps" "$l_p50" "$l_p99" "$l_n" "$((l_err + l_sock))" \
    "$(ratio "$l_rps" "$h_rps")x /health (for comparison: no consent decision, no AuditEvent)"
done

if [ "$skip_writes" = 0 ]; then
  python3 scripts/bench_http_data.py copies --bundles ../shared/corpus/synthea/bundles --copies "$copies" --out "$work/bundles" >"$work/resources.txt"
  resources="$(cat "$work/resources.txt")"
  # careledger import of the same files into a fresh store (opened, and so migrated, before the clock starts).
  cli_import() {
    local url; url="$(store_url "bench_import_$1")"
    "$bin" store stats --store "$url" >/dev/null
    local t0 t1; t0="$(date +%s.%N)"
    "$bin" import "$work/bundles" --store "$url" >"$work/import-$1.log" 2>&1 || { echo "import failed:" >&2; tail -5 "$work/import-$1.log" >&2; exit 70; }
    t1="$(date +%s.%N)"
    python3 -c "import sys; print(f'{int(sys.argv[1]) / (float(sys.argv[3]) - float(sys.argv[2])):.1f}')" "$resources" "$t0" "$t1"
  }
  import_before="$(cli_import before)"
  write_store="$(store_url bench_write)"
  serve writes "$write_store"
  "$bin" store stats --store "$write_store" >/dev/null
  ehr_token="$(token ehr "$work/ehr.pem" 'system/*.cruds')"
  python3 scripts/bench_http_data.py post --base "$base" --token "$ehr_token" --dir "$work/bundles" --concurrency "$writers" >"$work/writes.json" ||
    { echo "HTTP writes failed: $(cat "$work/writes.json")" >&2; exit 70; }
  http_rate="$(python3 -c 'import json; print(json.load(open("'"$work"'/writes.json"))["rate"])')"
  import_after="$(cli_import after)"
  import_mean="$(python3 -c "import sys; print(f'{(float(sys.argv[1]) + float(sys.argv[2])) / 2:.1f}')" "$import_before" "$import_after")"
  printf '\nwrites: %s resources in %s transaction Bundles (%s re-keyed copies of the Synthea bundles), %s writers\n' \
    "$resources" "$(ls "$work/bundles" | wc -l)" "$copies" "$writers"
  printf '  careledger import (reference)    %10s resources/s before, %s after, mean %s\n' "$import_before" "$import_after" "$import_mean"
  printf '  POST / transaction Bundles       %10s resources/s  %sx the import (goal: >= 0.70x)\n' "$http_rate" "$(ratio "$http_rate" "$import_mean")"
fi
