#!/usr/bin/env bash
# One prepared command for a lent GPU: train for a wall-clock budget, evaluate on the fixed test sets, and write the
# whole run folder (fp32 weights, results.json, metrics.jsonl, curves, train.log) under $OUT as 15 MB parts of one
# tar file: NAME.tar.00, NAME.tar.01, ... (at most 8 files come back from a lent GPU: a 12M-parameter model takes 4).
# Two runs can share the GPU (small models leave most of it idle): start two of these commands with & and wait.
#
# Usage (on the GPU machine, from the repository root; OUT is the folder whose files come back):
#   OUT=/some/dir scripts/gpu_train.sh CONFIG NAME [train.py overrides ...]
# Example:
#   OUT=$OUT scripts/gpu_train.sh training/configs/gpu-eigen-p1000.yaml eigen-p1000-gpu
#   (OUT=$OUT scripts/gpu_train.sh training/configs/gpu-eigen-p1000.yaml eigen-p1000-gpu &
#    OUT=$OUT scripts/gpu_train.sh training/configs/gpu-matvec-p1000.yaml matvec-p1000-gpu & wait)
# Then, back on the development machine, from the repository root:
#   cat FILES_AT/NAME.tar.* | tar -x -C runs/        # -> runs/NAME, ready for `linalg-transformers publish`
#
# The budget is the config's time_budget_s (override: --time_budget_s S); keep it about 3.5 minutes under the
# command's limit, for start-up, the test sets, the final evaluation and the tar. When .gpu/transformers.zip exists
# (scripts/make_gpu_bundle.sh builds it), it is put first on PYTHONPATH: a GPU image's own transformers can be older
# than the package's floor. The package itself runs from src/ (no install). docs/training.md#a-lent-gpu.
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: OUT=DIR $0 CONFIG NAME [train.py overrides ...]" >&2
    exit 2
fi
config=$1
name=$2
shift 2
: "${OUT:?set OUT to the folder the results are written to}"
python=${PYTHON:-python3}
site=$(mktemp -d)
if [ -f .gpu/transformers.zip ]; then
    unzip -q .gpu/transformers.zip -d "$site"
fi
export PYTHONPATH="$site:$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
"$python" - <<'PY'
import torch, transformers
gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
print(f"torch {torch.__version__}, transformers {transformers.__version__}, GPU: {gpu}", flush=True)
PY
run_root=$(mktemp -d)
status=0
mkdir -p "$run_root/$name"
"$python" training/train.py --config "$config" --output_dir "$run_root/$name" "$@" 2>&1 | tee "$run_root/$name/train.log" \
    || status=$?
# The complete run folder, checkpoints excluded (the final weights are in it), in parts below the 16 MB file limit.
tar -C "$run_root" --exclude='checkpoint-*' -cf - "$name" | split -b 15M -d - "$OUT/$name.tar."
ls -l "$OUT"
exit "$status"
