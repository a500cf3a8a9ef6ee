#!/usr/bin/env bash
# Runs one libFuzzer target of CareLedger's readers (Fuzz/README.md).
#
#   scripts/fuzz.sh --list               the targets, one per line
#   scripts/fuzz.sh TARGET SECONDS [libFuzzer flags…]
#
# Builds careledger-fuzz with CARELEDGER_FUZZ=1 (the readers compiled with -sanitize=fuzzer,address) into
# $CARELEDGER_FUZZ_SCRATCH (default .build-fuzz; configuration $CARELEDGER_FUZZ_CONFIG, default release), then fuzzes TARGET for SECONDS starting from its seeds:
# Fuzz/seeds/TARGET, the matching part of ../shared/corpus, and values the binary generates (receipts, proofs,
# ledger encodings). What it learns is kept in .fuzz/TARGET/corpus for the next run; an input that crashes, hangs,
# leaks out of the sanitizers or breaks a property is saved in .fuzz/TARGET/findings/ and the script exits 1.
# CARELEDGER_FUZZ_NO_BUILD=1 runs the binary already built (long runs while the sources change).
# Every run appends a line to .fuzz/runs.tsv (time, target, seconds it ran, inputs executed, findings, exit status),
# from which hours are counted.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
SHARED="${CARELEDGER_SHARED:-$ROOT/../shared}"
SCRATCH="${CARELEDGER_FUZZ_SCRATCH:-.build-fuzz}"
# release: optimized readers, many more inputs per second (the first build takes longer); debug: reuses a debug
# build's dependencies (CI fuzzes in .build after the tests).
CONFIG="${CARELEDGER_FUZZ_CONFIG:-release}"
WORK="${CARELEDGER_FUZZ_WORK:-$ROOT/.fuzz}"

targets() { sed -n 's/^ *case [a-zA-Z0-9]* = "\([a-z0-9-]*\)"$/\1/p' Fuzz/Targets/FuzzTarget.swift; }

usage() {
    echo "usage: scripts/fuzz.sh --list | TARGET SECONDS [libFuzzer flags...]" >&2
    echo "targets: $(targets | tr '\n' ' ')" >&2
    exit 64
}

[[ $# -ge 1 ]] || usage
if [[ "$1" == "--list" ]]; then targets; exit 0; fi
[[ $# -ge 2 ]] || usage
TARGET="$1"
SECONDS_TO_RUN="$2"
shift 2
targets | grep -qx -- "$TARGET" || { echo "fuzz.sh: no target named '$TARGET'" >&2; usage; }
[[ "$SECONDS_TO_RUN" =~ ^[0-9]+$ && "$SECONDS_TO_RUN" -gt 0 ]] || { echo "fuzz.sh: SECONDS must be a positive whole number, not '$SECONDS_TO_RUN'" >&2; exit 64; }

# The sanitizer runtimes and lld come with the Swift toolchain.
BIN="$SCRATCH/$CONFIG/careledger-fuzz"
if [[ "${CARELEDGER_FUZZ_NO_BUILD:-}" == 1 && -x "$BIN" ]]; then
    echo "fuzz.sh: using $BIN as built (CARELEDGER_FUZZ_NO_BUILD=1)" >&2
else
echo "fuzz.sh: building careledger-fuzz (scratch $SCRATCH)…" >&2
if ! BUILD_LOG=$(CARELEDGER_FUZZ=1 swift build -c "$CONFIG" --scratch-path "$SCRATCH" --product careledger-fuzz 2>&1); then
    echo "$BUILD_LOG" | tail -40 >&2
    echo "fuzz.sh: the build failed" >&2
    exit 70
fi
fi

# Seeds: read-only folders after the first, which is where libFuzzer writes what it learns.
mkdir -p "$WORK/$TARGET/corpus" "$WORK/$TARGET/findings" "$WORK/$TARGET/generated"
SEEDS=()
[[ -d "Fuzz/seeds/$TARGET" ]] && SEEDS+=("Fuzz/seeds/$TARGET")
case "$TARGET" in
    fhir-json|fhir-xml) SEEDS+=("$SHARED/corpus/fhir-r4-examples") ;;
    hl7-er7|mllp-frame) SEEDS+=("$SHARED/corpus/hl7v2") ;;
    ccda-xml) SEEDS+=("$SHARED/corpus/ccda") ;;
esac
MAX_LEN=16384
DICT=""
case "$TARGET" in
    fhir-json|receipt-json|proof-json) DICT=Fuzz/dict/json.dict ;;
    fhir-xml|ccda-xml) DICT=Fuzz/dict/xml.dict ;;
    hl7-er7|mllp-frame) DICT=Fuzz/dict/hl7.dict; MAX_LEN=8192 ;;
    ledger-decode) MAX_LEN=4096 ;;
esac
[[ "$TARGET" == ccda-xml ]] && MAX_LEN=131072
# Receipts, proofs and ledger values made by the node's own code (GeneratedSeeds), written before fuzzing.
CARELEDGER_FUZZ_TARGET="$TARGET" CARELEDGER_FUZZ_WRITE_SEEDS="$WORK/$TARGET/generated" "$BIN"
[[ -n "$(ls -A "$WORK/$TARGET/generated")" ]] && SEEDS+=("$WORK/$TARGET/generated")

FLAGS=(-max_total_time="$SECONDS_TO_RUN" -max_len="$MAX_LEN" -timeout=20 -rss_limit_mb=3072
       -artifact_prefix="$WORK/$TARGET/findings/" -print_final_stats=1)
[[ -n "$DICT" ]] && FLAGS+=(-dict="$DICT")
LOG="$WORK/$TARGET/last-run.log"
echo "fuzz.sh: $TARGET for $SECONDS_TO_RUN s from ${SEEDS[*]:-nothing}" >&2
set +e
STARTED=$(date +%s)
# Leak checking is off: the Swift runtime keeps metadata caches for the life of the process, which LeakSanitizer
# reports as leaks; Swift's own backtracer is off, as it trips AddressSanitizer reading the crashed process's memory.
# AddressSanitizer's memory errors and libFuzzer's crashes, hangs and out-of-memory all count.
ASAN_OPTIONS="detect_leaks=0:${ASAN_OPTIONS:-}" SWIFT_BACKTRACE=enable=no CARELEDGER_FUZZ_TARGET="$TARGET" CARELEDGER_MAPPINGS="$ROOT/Mappings" \
    "$BIN" "${FLAGS[@]}" "$@" "$WORK/$TARGET/corpus" "${SEEDS[@]}" 2>&1 | tee "$LOG" | grep -E "^(#[0-9]+ +(INITED|DONE)|==[0-9]+==|PROPERTY|SUMMARY|stat::|artifact_prefix|Test unit written|Done )" >&2
STATUS=${PIPESTATUS[0]}
RAN=$(( $(date +%s) - STARTED ))
set -e
EXECS=$(sed -n 's/^stat::number_of_executed_units: *//p' "$LOG" | tail -1)
FINDINGS=$(find "$WORK/$TARGET/findings" -type f | wc -l | tr -d ' ')
printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$TARGET" "$RAN" "${EXECS:-0}" "$FINDINGS" "$STATUS" >> "$WORK/runs.tsv"
echo "fuzz.sh: $TARGET: ${EXECS:-0} inputs in $RAN s, exit $STATUS, findings so far in $WORK/$TARGET/findings: $FINDINGS" >&2
exit $(( STATUS == 0 ? 0 : 1 ))
