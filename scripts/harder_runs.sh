#!/usr/bin/env bash
# Continue the runs toward the harder released models (training/configs/cpu-harder-p1000.yaml), one after another,
# each for SECONDS of training in this session: a run stops with a checkpoint (--stop_after_s) and the same call
# resumes it in a later session, at the same constant rate. Each run's log is appended to runs/<name>.log.
#
#   scripts/harder_runs.sh SECONDS PROBLEM [PROBLEM ...] [-- TRAINING OVERRIDES]
#   OMP_NUM_THREADS=1 nohup nice -n 5 scripts/harder_runs.sh 1800 matmul inverse > /dev/null 2>&1 &
#
# PROBLEM is a problem name (matmul, inverse, eigenvectors, singular_values, svd); the run folder is
# $RUNS_DIR/<name>-p1000 (RUNS_DIR defaults to runs), <name> with dashes (runs/singular-values-p1000). Arguments
# after -- go to every training/train.py call (the tests use them for a tiny model).
set -euo pipefail
cd "$(dirname "$0")/.."
usage="usage: $0 SECONDS PROBLEM [PROBLEM ...] [-- TRAINING OVERRIDES]"
if [ $# -lt 2 ]; then
  echo "$usage" >&2
  exit 2
fi
seconds=$1
shift
problems=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  problems+=("$1")
  shift
done
[ $# -gt 0 ] && shift  # the --
if [ ${#problems[@]} -eq 0 ]; then
  echo "$usage" >&2
  exit 2
fi
python=${PYTHON:-.venv/bin/python}
runs=${RUNS_DIR:-runs}
mkdir -p "$runs"
for problem in "${problems[@]}"; do
  name=${problem//_/-}-p1000
  echo "== $(date -u +%FT%TZ) $problem: $seconds s" >> "$runs/$name.log"
  "$python" training/train.py --config training/configs/cpu-harder-p1000.yaml --problem "$problem" \
    --output_dir "$runs/$name" --stop_after_s "$seconds" "$@" >> "$runs/$name.log" 2>&1
done
