#!/usr/bin/env bash
# The tool-calling eval of the local default model (issue 7): 24 prompts from scripts/eval-tools.json, 12 of
# which need a tool. Needs the set-up (scripts/install-llama.sh) and a build; prints one line per case and the
# score. EVAL_CASES=scripts/eval-tools-holdout.json runs the 12 held-out prompts (never used for tuning).
# Extra arguments go to `localgpt models eval` (e.g. -m local/<model>, --json, --temperature 0.2).
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(swift build --show-bin-path 2>/dev/null || echo .build/debug)"
[ -x "$bin/localgpt" ] || { echo "eval-tools: build first (make build)" >&2; exit 1; }
[ -d "$bin/plugins/org.localgpt.providers" ] || make --no-print-directory plugins >/dev/null
home="$(mktemp -d "${TMPDIR:-/tmp}/lgpt-eval.XXXXXX")"
trap 'rm -rf "$home"' EXIT
LOCALGPT_HOME="$home" "$bin/localgpt" models eval --cases "${EVAL_CASES:-scripts/eval-tools.json}" "$@"
