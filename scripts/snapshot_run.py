"""Snapshot a training run in progress, small enough to commit: its last complete checkpoint's weights and its record.

Usage: python scripts/snapshot_run.py runs/eigen-p1000-v3 training/runs/eigen-p1000-v3

A run that continues across sessions resumes exactly from its own folder (``runs/NAME``, with the optimizer state).
Where that folder may not survive until the next session, this keeps what is needed to continue from the weights
instead: ``model.safetensors`` stored in float16 (half the size; ``config.json`` says float32, so ``from_pretrained``
and ``--init_from`` load it in float32, as the published models do), the tokenizer files, ``metrics.jsonl``,
``training_args.yaml`` and ``trainer_state.json`` of that checkpoint, and a ``SNAPSHOT.json`` naming the checkpoint,
its step and examples (and the hardware, once the run has stopped and recorded it), which
`linalg_transformers.record.training_lineage` reads with the training time of ``metrics.jsonl`` up to that step, so
that a run continued from the snapshot counts them. Continue
with ``training/train.py --init_from DEST`` (a fresh optimizer and warmup; pass a new
``--seed`` so that the example stream is not the one already seen).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import torch
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

import linalg_transformers  # noqa: F401  (registers the Auto classes)
from linalg_transformers.hub.weights import save_stored_weights
from linalg_transformers.record import SNAPSHOT_FILE, read_metrics

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "training"))
from train import complete_checkpoints  # noqa: E402


def examples_per_step(run_dir: Path) -> int:
    """Examples per optimizer step, all processes together, as `training/train.py` logged them (``metrics.jsonl``).

    Raises:
        ValueError: when the run has logged no step yet.
    """
    for row in read_metrics(run_dir):
        if row.get("step", 0) > 0 and "examples" in row:
            return row["examples"] // row["step"]
    raise ValueError(f"{run_dir}: metrics.jsonl has no logged step to count examples from")


def snapshot(run_dir: Path, dest: Path) -> dict[str, object]:
    """Write the snapshot of `run_dir`'s last complete checkpoint into `dest`; returns what ``SNAPSHOT.json`` holds.

    Raises:
        ValueError: when `run_dir` has no complete checkpoint.
    """
    checkpoints = complete_checkpoints(run_dir)
    if not checkpoints:
        raise ValueError(f"{run_dir}: no complete checkpoint to snapshot")
    checkpoint = checkpoints[-1]
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    model = AutoModelForSeq2SeqLM.from_pretrained(checkpoint, dtype=torch.float32)
    save_stored_weights(model, dest, torch.float16)
    AutoTokenizer.from_pretrained(checkpoint).save_pretrained(dest)
    for name in ("metrics.jsonl", "training_args.yaml"):
        shutil.copy2(run_dir / name, dest / name)
    shutil.copy2(checkpoint / "trainer_state.json", dest / "trainer_state.json")
    info = {
        "run": str(run_dir),
        "checkpoint": checkpoint.name,
        "step": state["global_step"],
        "examples": state["global_step"] * examples_per_step(run_dir),
        "stored_dtype": "float16",
        "continue": f"python training/train.py --config <the run's config> --init_from {dest} --seed <a new seed>",
    }
    if (run_dir / "results.json").is_file():  # the run has stopped at least once: where it ran, as recorded
        info["hardware"] = json.loads((run_dir / "results.json").read_text())["hardware"]
    (dest / SNAPSHOT_FILE).write_text(json.dumps(info, indent=2) + "\n")
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("dest", type=Path)
    args = parser.parse_args(argv)
    print(json.dumps(snapshot(args.run_dir, args.dest), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
