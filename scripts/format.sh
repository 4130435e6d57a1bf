#!/usr/bin/env bash
# Formats every tracked Swift file with the toolchain's swift-format, or checks it (--lint).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--lint" ]; then
    git ls-files -z '*.swift' | xargs -0 swift format lint --strict --parallel
else
    git ls-files -z '*.swift' | xargs -0 swift format format --parallel --in-place
fi
