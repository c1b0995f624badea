#!/usr/bin/env bash
# Build .gpu/transformers.zip: the transformers release this package is tested with, for a GPU image whose own is
# older (scripts/gpu_train.sh puts it first on PYTHONPATH). Only the model families the package imports are kept
# (auto and encoder_decoder), so the bundle is about 2.5 MB and travels with the working tree (name .gpu in carry;
# it is ignored through .git/info/exclude). Needs the package index, not the Hub.
#
# Usage: scripts/make_gpu_bundle.sh [VERSION]     (default: the transformers installed in .venv)
set -euo pipefail
version=${1:-$(.venv/bin/python -c 'import transformers; print(transformers.__version__)')}
work=$(mktemp -d)
python3 -m pip download -q --no-deps --only-binary=:all: -d "$work" "transformers==$version"
unzip -q "$work"/transformers-*.whl -d "$work/site"
find "$work/site/transformers/models" -mindepth 1 -maxdepth 1 -type d \
    ! -name auto ! -name encoder_decoder -exec rm -rf {} +
mkdir -p .gpu
rm -f .gpu/transformers.zip
(cd "$work/site" && zip -q -r "$OLDPWD/.gpu/transformers.zip" transformers)
exclude="$(git rev-parse --git-dir)/info/exclude"
mkdir -p "$(dirname "$exclude")"
grep -qx '/.gpu/' "$exclude" 2>/dev/null || echo '/.gpu/' >> "$exclude"
ls -l .gpu/transformers.zip
