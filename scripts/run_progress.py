"""The record of runs still in training: a Markdown table of where each stands, and the run records to commit.

Usage:
    python scripts/run_progress.py runs/singular-values-p1000 runs/matmul-p1000 ... \\
        --out docs/in-training.md --records training/runs

A run that continues across sessions (`training/train.py --stop_after_s`, `scripts/harder_runs.sh`) ends each
session with its final evaluation written (``results.json``: greedy accuracy on the first ``final_eval_size`` fixed
test problems) and a test-loss point in ``metrics.jsonl`` (teacher-forced cross-entropy per target token on the
``eval_size`` evaluation problems). This reads both for every run given and writes:

- ``--out``: the table (examples so far, sessions, training time, the test loss at its first and last evaluation,
  the accuracy, the CPU) and each run's test-loss curve, with the command that continues it;
- ``--records DIR``: ``DIR/<run>/`` with the run's ``results.json``, ``training_args.yaml`` and ``metrics.jsonl``
  (a few kB, no weights), so that the repository keeps the measured progress even if the run folder is lost.

No number in the output is typed by hand: each is read from the run's own record.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from linalg_transformers import record
from linalg_transformers.hub.history import format_duration
from linalg_transformers.record import TrainingOutput
from linalg_transformers.scoring import TOLERANCES, accuracy_key, tolerance_label

RECORD_FILES = (*record.RECORD_FILES, "metrics.jsonl")
"""What ``--records`` copies from a run folder (and all that `RunProgress.read` needs of one)."""

HEADER = """# Models in training

The problems below have no released model yet. Each has a run on two CPU cores
(`training/configs/cpu-harder-p1000.yaml`: the eigenvalue release recipe with the problem on the command line,
continued a session's share at a time by `scripts/harder_runs.sh SECONDS PROBLEM ...`, docs/training.md,
"Continuing across sessions"); a decayed copy is published when a run reaches the paper's accuracy. A run continues
only where its folder `runs/<run>/` (weights and optimizer state, not committed) is still on the machine: the
repository keeps its record, not its weights (about 25 MB each in float16, beyond a session's share of repository
growth for five runs), so a fresh checkout restarts it from scratch, and its row below stays until the restarted run
passes it. This page is written by `python scripts/run_progress.py RUN ... --out docs/in-training.md --records
training/runs` from each run's own record, copied to `training/runs/<run>/`; it also reads those record folders
(`python scripts/run_progress.py training/runs/<run> ...`) when the runs themselves are gone. The test loss is the
cross-entropy per target token, teacher-forced, on the first evaluation problems of the fixed test set; the
accuracies are greedy, on the first "test problems" of it, at the run's last stop, undecayed (a published copy
decays first). Targets after the paper: over 90% at 5% on every problem (for inversion, rounding the input to three
digits alone caps it at about 92%, the reference study's own analysis).
"""
"""The page ``--out`` writes above the table."""

TABLE_TOLERANCES = TOLERANCES[:3]
"""Tolerances shown (5%, 2%, 1%): far from their targets, runs are compared at the loosest ones."""


@dataclass(frozen=True)
class RunProgress:
    """Where one run stands at its last stop.

    Attributes:
        name (`str`): The run folder's name (``singular-values-p1000``; the target Hub id is ``linalg/<name>``).
        problem (`str`): The problem's name.
        examples (`int`): Training examples seen.
        sessions (`int`): Training sessions (processes) the run has had.
        train_seconds (`float`): Wall-clock training time over all sessions.
        test_losses (`list[tuple[int, float]]`): (examples, test loss per target token) at each evaluation.
        accuracy (`dict[str, float]`): The last final evaluation: accuracy by tolerance key, ``well_formed``.
        test_size (`int`): Fixed test problems that evaluation scored.
        hardware (`str`): The CPU (or GPU) of the last session, as recorded.
        command (`str`): The command line of the last session.
    """

    name: str
    problem: str
    examples: int
    sessions: int
    train_seconds: float
    test_losses: list[tuple[int, float]]
    accuracy: dict[str, float]
    test_size: int
    hardware: str
    command: str

    @classmethod
    def read(cls, run_dir: Path) -> RunProgress:
        """Read a run folder that has stopped at least once, or its record copied by ``--records`` (`ValueError`
        otherwise, from `TrainingOutput.load`)."""
        output = TrainingOutput.load(run_dir, record_only=True)
        losses = [(int(row["examples"]), float(row["eval_loss"])) for row in output.metrics if "eval_loss" in row]
        return cls(
            name=run_dir.name,
            problem=output.results["problem"]["name"],
            examples=int(output.results["examples_seen"]),
            sessions=len(output.training_sessions()),
            train_seconds=output.train_seconds(),
            test_losses=losses,
            accuracy=output.results["test_sets"]["test"],
            test_size=int(output.results["test_size"]),
            hardware=output.results["hardware"],
            command=output.results.get("command") or "",
        )


def _loss(points: list[tuple[int, float]], index: int) -> str:
    """The test loss at one evaluation, with its examples (``"2.207 @51k"``), or empty."""
    if not points:
        return ""
    examples, loss = points[index]
    return f"{loss:.3f} @{examples // 1000}k"


def format_progress(runs: list[RunProgress]) -> str:
    """The Markdown table of the runs, then each run's test-loss curve."""
    head = ["target", "problem", "examples", "sessions", "training time", "test loss, first", "test loss, last"]
    head += [tolerance_label(t) for t in TABLE_TOLERANCES] + ["well formed", "test problems", "hardware"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for run in runs:
        cells = [f"`linalg/{run.name}`", run.problem, f"{run.examples:,}", str(run.sessions)]
        cells += [format_duration(run.train_seconds) if math.isfinite(run.train_seconds) else ""]
        cells += [_loss(run.test_losses, 0), _loss(run.test_losses, -1)]
        cells += [f"{100 * run.accuracy[accuracy_key(t)]:.1f}%" for t in TABLE_TOLERANCES]
        cells += [f"{100 * run.accuracy['well_formed']:.1f}%", f"{run.test_size:,}", run.hardware]
        lines.append("| " + " | ".join(cells) + " |")
    for run in runs:
        curve = ", ".join(f"{loss:.3f} at {examples:,}" for examples, loss in run.test_losses)
        lines += ["", f"- `{run.name}`: test loss {curve or 'not evaluated yet'}. Last command: `{run.command}`"]
    return "\n".join(lines)


def copy_records(run_dir: Path, records: Path) -> Path:
    """Copy a run's record files (`RECORD_FILES`, no weights) into ``records/<run name>/``; returns that folder."""
    dest = records / run_dir.name
    dest.mkdir(parents=True, exist_ok=True)
    for name in RECORD_FILES:
        if (run_dir / name).is_file():
            shutil.copy2(run_dir / name, dest / name)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders (training/train.py output_dir)")
    parser.add_argument("--out", type=Path, help="write the table here (default: print it)")
    parser.add_argument("--records", type=Path, help="copy each run's record files into this folder")
    args = parser.parse_args(argv)
    try:
        progress = [RunProgress.read(run) for run in args.runs]
    except ValueError as err:
        print(f"run_progress: {err}", file=sys.stderr)
        return 2
    table = format_progress(progress)
    if args.out:
        args.out.write_text(HEADER + "\n" + table + "\n")
    else:
        print(table)
    if args.records:
        for run in args.runs:
            copy_records(run, args.records)
    return 0


if __name__ == "__main__":
    sys.exit(main())
