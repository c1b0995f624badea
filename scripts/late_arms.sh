#!/usr/bin/env bash
# The late-stage A/B of the eigen-p1000 release recipe: arms that continue from the published weights at one example
# budget, each with the release runs' schedule shape (warmup over 9,600 examples, constant for the first 15% of the
# examples, linear decay to 5% of the peak over the last 85%), scored by the test loss on the 1,000 fixed evaluation
# problems every 64,000 examples and by greedy accuracy on the first 2,000 fixed test problems at the end
# (docs/recipes.md, "Late in training: batch size and the number-aware loss").
#
#   scripts/late_arms.sh ARM [ARM ...] [-- TRAINING OVERRIDES]
#   OMP_NUM_THREADS=2 nohup scripts/late_arms.sh batch32 batch64 ntl > runs/late.log 2>&1 &
#
# ARM: batch32 (the release runs' recipe: batch 32, peak 2e-4), batch64 and batch128 (batch 64, peak 2.8e-4, and
# batch 128, peak 4e-4: the rate times the square root of the batch ratio), ntl (batch32 with the number-aware loss
# at weight 0.3). Each arm trains into $RUNS_DIR/late/<arm> (RUNS_DIR defaults to runs) from $INIT (defaults to
# checkpoints/linalg/eigen-p1000) for $EXAMPLES examples (defaults to 192000, a multiple of 128 and of 64,000), seed
# $SEED (defaults to 31). Arguments after -- go to every training/train.py call (the tests use them for a tiny
# budget, with a shorter warmup).
set -euo pipefail
cd "$(dirname "$0")/.."
usage="usage: $0 ARM [ARM ...] [-- TRAINING OVERRIDES]   (ARM: batch32, batch64, batch128, ntl)"
declare -A batch=([batch32]=32 [batch64]=64 [batch128]=128 [ntl]=32)
declare -A rate=([batch32]=2e-4 [batch64]=2.8e-4 [batch128]=4e-4 [ntl]=2e-4)
declare -A extra=([batch32]="" [batch64]="" [batch128]="" [ntl]="--number_loss_weight 0.3")
arms=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  if [ -z "$1" ] || [ -z "${batch[$1]+set}" ]; then
    echo "$0: unknown arm '$1'" >&2
    echo "$usage" >&2
    exit 2
  fi
  arms+=("$1")
  shift
done
[ $# -gt 0 ] && shift  # the --
if [ ${#arms[@]} -eq 0 ]; then
  echo "$usage" >&2
  exit 2
fi
python=${PYTHON:-.venv/bin/python}
examples=${EXAMPLES:-192000}
for arm in "${arms[@]}"; do
  b=${batch[$arm]}
  steps=$((examples / b))
  decay=$((steps * 85 / 100))
  if [ "$steps" -lt 1 ]; then
    echo "$0: EXAMPLES=$examples is less than one batch of $b" >&2
    exit 2
  fi
  kwargs="{\"num_decay_steps\": $decay, \"min_lr_ratio\": 0.05, \"decay_type\": \"linear\"}"
  # shellcheck disable=SC2086  # extra holds several words on purpose
  "$python" training/train.py --config training/configs/cpu-eigen-p1000.yaml \
    --init_from "${INIT:-checkpoints/linalg/eigen-p1000}" --output_dir "${RUNS_DIR:-runs}/late/$arm" \
    --seed "${SEED:-31}" --per_device_train_batch_size "$b" --learning_rate "${rate[$arm]}" \
    --warmup_steps $((9600 / b)) --max_steps "$steps" --lr_scheduler_kwargs "$kwargs" \
    --eval_steps $((64000 / b)) --logging_steps $((6400 / b)) --save_strategy no \
    --final_eval_size 2000 --extra_test_distributions "" ${extra[$arm]} "$@"
done
