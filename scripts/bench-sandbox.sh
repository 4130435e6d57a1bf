#!/usr/bin/env bash
# The sandbox's added cost: `bash -c true` through ProcessRunner, plain versus sandboxed (the configured
# level, `auto` by default), interleaved, median of N runs each (default 200), after 10 warm-up rounds.
# Builds the release binary first; uses a throw-away LOCALGPT_HOME so your own config is not involved.
#
#   scripts/bench-sandbox.sh            # 200 runs each, level auto
#   scripts/bench-sandbox.sh 500 full   # 500 runs each, level full
#   RUNS=200 LEVEL=standard scripts/bench-sandbox.sh
#   REALTIME=1 scripts/bench-sandbox.sh # as root: run under SCHED_FIFO (chrt -f 10), so that other work
#                                        # on the machine (parallel builds) does not drown the difference
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-${RUNS:-200}}"
LEVEL="${2:-${LEVEL:-}}"
SWIFT="${SWIFT:-swift}"

"$SWIFT" build -c release --product localgpt >/dev/null
"$SWIFT" build -c release --product localgpt-warden >/dev/null
BIN="$("$SWIFT" build -c release --show-bin-path)"
HOME_DIR="$(mktemp -d "${TMPDIR:-/tmp}/lgpt-bench.XXXXXX")"
trap 'rm -rf "$HOME_DIR"' EXIT

echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "machine: $(uname -srm), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg)"
PREFIX=()
if [ "${REALTIME:-0}" = 1 ]; then PREFIX=(chrt -f 10); fi
echo "command: LOCALGPT_HOME=<tmp> ${PREFIX[*]:+${PREFIX[*]} }$BIN/localgpt sandbox bench --runs $RUNS${LEVEL:+ --level $LEVEL}"
LOCALGPT_HOME="$HOME_DIR" "$BIN/localgpt" init >/dev/null
LOCALGPT_HOME="$HOME_DIR" "${PREFIX[@]}" "$BIN/localgpt" sandbox bench --runs "$RUNS" ${LEVEL:+--level "$LEVEL"}
