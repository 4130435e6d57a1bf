#!/usr/bin/env bash
# The memory figures of docs/PERFORMANCE.md ("Memory"): keyword indexing, embedding throughput and
# query embedding, hybrid search over 100,000 chunks, `localgpt memory search` end to end on a
# 1,000-file workspace, and (when LOCOMO is set) recall on the LoCoMo development split.
# Builds nothing: run `swift build -c release --product localgpt` first.
#
#   scripts/bench-memory.sh
#   LOCOMO=../shared/bench/locomo-dev scripts/bench-memory.sh
#   RUNS=20 WORK=/tmp/lgpt-bench-memory scripts/bench-memory.sh   # keep the generated data
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${LOCALGPT_BIN:-$ROOT/.build/release/localgpt}
RUNS=${RUNS:-10}
WORK=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/lgpt-bench-memory.XXXXXX")}
if [ ! -x "$BIN" ]; then
    echo "bench-memory: no release binary at $BIN" >&2
    exit 1
fi
mkdir -p "$WORK"
echo "machine: $(nproc) cores; $(uptime)"

# (a) keyword indexing of 10,000 files, (b) embedding, (c) hybrid search over 100,000 chunks.
"$BIN" memory bench-perf --dir "$WORK/perf" --embed-chunks 500 --queries 300

# (d) `localgpt memory search` end to end on a 1,000-file workspace.
export LOCALGPT_HOME=$WORK/home
WS=$WORK/ws1000
if [ ! -d "$WS" ]; then "$BIN" memory bench-perf --generate "$WS" --files 1000 >/dev/null; fi
"$BIN" memory reindex --workspace "$WS" >/dev/null
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_runs() {
    for _ in $(seq "$RUNS"); do
        local t0 t1
        t0=$(date +%s%N)
        "$BIN" memory search --workspace "$WS" "$@" >/dev/null 2>&1
        t1=$(date +%s%N)
        echo $(((t1 - t0) / 1000))
    done | median
}
"$BIN" memory search --workspace "$WS" --mode keyword "warm up" >/dev/null 2>&1 || true
echo "memory search, keyword only (1,000 files): median $(time_runs --mode keyword "When did Alice paint the garden?") us"
echo "memory search, hybrid (1,000 files):       median $(time_runs "When did Alice paint the garden?") us"

# (e) recall on the LoCoMo development split.
if [ -n "${LOCOMO:-}" ]; then
    "$BIN" memory bench-locomo "$LOCOMO" --cache-dir "$WORK/locomo-cache" --categories
fi
echo "after: $(uptime)"
