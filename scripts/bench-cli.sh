#!/usr/bin/env bash
# Times the release `localgpt` start-up: `localgpt --version` and `localgpt plugin list` with every
# bundled plugin, RUNS times each (default 10), and prints the medians in ms against the targets
# (docs/PERFORMANCE.md). Builds nothing: run `make build CONFIG=release` first.
#
#   scripts/bench-cli.sh                 # uses hyperfine when installed, else a plain loop
#   RUNS=30 scripts/bench-cli.sh
#   LOCALGPT_BIN=/path/to/localgpt scripts/bench-cli.sh
#   BENCH_NO_HYPERFINE=1 scripts/bench-cli.sh   # force the plain loop
#
# `plugin list` runs with LOCALGPT_HOME set to a fresh temporary folder set up as `make run` does
# (`localgpt init`: config.toml, workspace, device key), so only the bundled plugins staged next to
# the binary load, and their library hashes come from the signed cache after the first run.
# BENCH_NO_INIT=1 skips `init`: no device key, so every run hashes every library.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${RUNS:-10}
VERSION_TARGET_MS=15
LIST_TARGET_MS=40

if [ -n "${LOCALGPT_BIN:-}" ]; then
    BIN=$LOCALGPT_BIN
elif [ -x "$ROOT/.build/release/localgpt" ]; then
    BIN=$ROOT/.build/release/localgpt
else
    BIN=$(cd "$ROOT" && swift build -c release --show-bin-path 2>/dev/null)/localgpt
fi
if [ ! -x "$BIN" ]; then
    echo "bench-cli: no release binary at $BIN; run \`make build CONFIG=release\` first" >&2
    exit 1
fi
BIN=$(readlink -f "$BIN")
PLUGINS=$(dirname "$BIN")/plugins
if ! ls "$PLUGINS"/*/plugin.json >/dev/null 2>&1; then
    echo "bench-cli: no bundled plugins in $PLUGINS; run \`make build CONFIG=release\` first" >&2
    exit 1
fi

HOME_DIR=$(mktemp -d "${TMPDIR:-/tmp}/lgpt-bench-cli.XXXXXX")
trap 'rm -rf "$HOME_DIR"' EXIT
export LOCALGPT_HOME=$HOME_DIR
unset LOCALGPT_BUNDLED_PLUGINS

if [ -z "${BENCH_NO_INIT:-}" ]; then
    "$BIN" init >/dev/null
fi
# One untimed run: creates config.toml, warms the page cache and the library hash cache, and
# checks every plugin loads.
LIST_OUTPUT=$("$BIN" plugin list 2>&1)
if grep -q '^FAILED' <<<"$LIST_OUTPUT"; then
    echo "bench-cli: a bundled plugin failed to load:" >&2
    echo "$LIST_OUTPUT" >&2
    exit 1
fi
NPLUGINS=$(ls -d "$PLUGINS"/*/ | wc -l)

echo "binary:  $BIN"
echo "plugins: $NPLUGINS bundled in $PLUGINS"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "runs:    $RUNS each"

# Prints "median min max" in ms for the command given as arguments.
time_plain() {
    local samples=() i s e
    for ((i = 0; i < RUNS; i++)); do
        s=$(date +%s%N)
        "$@" >/dev/null 2>&1
        e=$(date +%s%N)
        samples+=($((e - s)))
    done
    printf '%s\n' "${samples[@]}" | sort -n | awk '
        { v[NR] = $1 }
        END {
            m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%.2f %.2f %.2f\n", m / 1e6, v[1] / 1e6, v[NR] / 1e6
        }'
}

time_hyperfine() {
    local csv
    csv=$(mktemp "$HOME_DIR/hf.XXXXXX")
    hyperfine --shell=none --warmup 2 --runs "$RUNS" --export-csv "$csv" --style none "$*" >/dev/null 2>&1
    # command,mean,stddev,median,user,system,min,max (seconds)
    awk -F, 'NR == 2 { printf "%.2f %.2f %.2f\n", $4 * 1000, $7 * 1000, $8 * 1000 }' "$csv"
}

if command -v hyperfine >/dev/null 2>&1 && [ -z "${BENCH_NO_HYPERFINE:-}" ]; then
    METHOD=hyperfine
    echo "method:  hyperfine $(hyperfine --version | awk '{print $2}') (--shell=none, 2 warm-up runs)"
else
    METHOD=plain
    echo "method:  plain loop, date +%s%N around each run (hyperfine not installed; includes fork/exec of the loop)"
fi

fail=0
report() {
    local name=$1 target=$2
    shift 2
    local m lo hi verdict
    if [ "$METHOD" = hyperfine ]; then
        read -r m lo hi < <(time_hyperfine "$@")
    else
        read -r m lo hi < <(time_plain "$@")
    fi
    if awk -v m="$m" -v t="$target" 'BEGIN { exit !(m <= t) }'; then verdict=PASS; else verdict=MISS; fail=1; fi
    printf '%-28s median %7.2f ms  (min %.2f, max %.2f)  target <= %d ms  %s\n' "$name" "$m" "$lo" "$hi" "$target" "$verdict"
}

echo
report "localgpt --version" "$VERSION_TARGET_MS" "$BIN" --version
report "localgpt plugin list" "$LIST_TARGET_MS" "$BIN" plugin list
exit $fail
