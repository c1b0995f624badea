"""The training record: what `training/train.py` leaves in its output directory, and the lineage of a run.

`training/train.py` writes the record (``results.json``, ``results.md``, ``training_args.yaml``, ``metrics.jsonl``,
``training_curves.png``) and reads the lineage of the model it starts from (``--init_from``); publishing
(`linalg_transformers.hub`) reads the record back and adds the totals of a chain of runs. Both sides use this module,
which imports neither the model nor any Hub client: training does not depend on publishing.
"""

from __future__ import annotations

import json
import math
import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .scoring import TOLERANCES, accuracy_key

__all__ = [
    "OPTIONAL_TRAINING_FILES",
    "RECORD_FILES",
    "REQUIRED_TRAINING_FILES",
    "TRAIN_SCRIPT",
    "TrainingOutput",
    "SNAPSHOT_FILE",
    "LineageTotals",
    "lineage_examples",
    "lineage_totals",
    "published_lineage",
    "published_results",
    "read_metrics",
    "sanitized_training_args",
    "training_command",
    "snapshot_lineage",
    "training_lineage",
    "training_sessions",
]

REQUIRED_TRAINING_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "results.json",
    "training_args.yaml",
)
"""What a finished training output directory holds (the final model, tokenizer, results and resolved arguments)."""

RECORD_FILES = ("results.json", "training_args.yaml")
"""The part of `REQUIRED_TRAINING_FILES` that is a run's record (no weights): what a record folder must hold."""

OPTIONAL_TRAINING_FILES = ("results.md", "metrics.jsonl", "training_curves.png")
"""Training records written when available (a published repository copies them)."""

TRAIN_SCRIPT = "training/train.py"
"""The training script, relative to the repository root (as a recorded command names it)."""


def training_command(argv: Sequence[str], *, num_processes: int = 1, script: str = TRAIN_SCRIPT) -> str:
    """The command line of a training run as one shell string that runs it again from the repository root.

    Args:
        argv (`Sequence[str]`): The arguments after the script name (``sys.argv[1:]``), kept verbatim: paths in them
            are as the run was given them.
        num_processes (`int`, *optional*, defaults to 1): Processes of the run (``world_size``); more than one is
            written as the ``accelerate launch`` of the training script.
        script (`str`, *optional*, defaults to `TRAIN_SCRIPT`): The script path.

    Returns:
        `str`: e.g. ``"python training/train.py --config training/configs/smoke.yaml --max_steps 50"``.

    Example:
        >>> training_command(["--config", "training/configs/smoke.yaml", "--output_dir", "runs/my run"])
        "python training/train.py --config training/configs/smoke.yaml --output_dir 'runs/my run'"
        >>> training_command(["--config", "c.yaml"], num_processes=2)
        'accelerate launch --multi_gpu --num_processes 2 training/train.py --config c.yaml'
    """
    if num_processes < 1:
        raise ValueError(f"num_processes must be at least 1; got {num_processes}")
    launcher = ["python"]
    if num_processes > 1:
        launcher = ["accelerate", "launch", "--multi_gpu", "--num_processes", str(num_processes)]
    return shlex.join([*launcher, script, *argv])


def read_metrics(folder: str | os.PathLike) -> list[dict[str, Any]]:
    """The rows of a folder's ``metrics.jsonl``, in order (empty without the file).

    Training drops the rows a resumed run repeats, so each step appears once.
    """
    path = Path(folder) / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


SNAPSHOT_FILE = "SNAPSHOT.json"
"""What `scripts/snapshot_run.py` writes beside a run's float16 weights: the checkpoint, its step and examples."""


def training_sessions(metrics: Sequence[dict[str, Any]], *, until_step: int | None = None) -> list[float]:
    """Wall-clock seconds of each training session in ``metrics.jsonl`` rows (a resumed run starts a new one).

    `train.py` logs ``wall_time`` since the start of its process; it falls back at each resume.

    Args:
        metrics (`Sequence[dict]`): The rows of ``metrics.jsonl``, in order.
        until_step (`int`, *optional*): Count only the rows up to this step (a checkpoint's, for a snapshot).

    Returns:
        `list[float]`: One entry per session, its last logged ``wall_time``.
    """
    sessions: list[float] = []
    last: float | None = None
    for entry in metrics:
        t = entry.get("wall_time")
        if not isinstance(t, (int, float)):
            continue
        if until_step is not None and int(entry.get("step", 0)) > until_step:
            continue
        if last is None or t < last:
            sessions.append(float(t))
        else:
            sessions[-1] = float(t)
        last = float(t)
    return sessions


def snapshot_lineage(folder: str | os.PathLike) -> dict[str, Any] | None:
    """What a snapshot of a run in progress (`scripts/snapshot_run.py`) had been trained on, or `None` if not one.

    A snapshot holds no ``results.json`` (the run had not ended): its examples come from ``SNAPSHOT.json``, its
    training time from the ``metrics.jsonl`` rows up to the snapshot's step (the file holds the whole run's), its
    hardware from ``SNAPSHOT.json`` when recorded there.

    Returns:
        `dict` or `None`: ``examples_seen``, ``train_seconds`` and ``hardware``, as `training_lineage` adds them.
    """
    path = Path(folder) / SNAPSHOT_FILE
    if not path.is_file():
        return None
    info = json.loads(path.read_text())
    seconds = sum(training_sessions(read_metrics(folder), until_step=int(info["step"])))
    return {
        "examples_seen": int(info["examples"]),
        "train_seconds": round(seconds, 1),
        "hardware": info.get("hardware", "hardware not recorded in the snapshot"),
    }


@dataclass
class TrainingOutput:
    """What `training/train.py` left in its output directory, read back (for publishing, or as a run's lineage).

    Attributes:
        path (`Path`): The output directory.
        config (`dict`): ``config.json``.
        results (`dict`): ``results.json``: ``test_sets`` (test-set name -> accuracy dict), ``examples_seen``,
            ``steps``, ``test_size``, ``problem``, ``encodings``, ``hardware``, ``command`` (the command line that
            ran, when recorded), ...
        training_args (`dict`): ``training_args.yaml`` (the resolved training arguments).
        metrics (`list[dict]`): ``metrics.jsonl`` entries (empty when the file is absent).
    """

    path: Path
    config: dict[str, Any]
    results: dict[str, Any]
    training_args: dict[str, Any]
    metrics: list[dict[str, Any]]

    @classmethod
    def load(cls, path: str | os.PathLike, *, record_only: bool = False) -> TrainingOutput:
        """Read a training output directory (or a published repository folder, which holds the same record).

        Args:
            path (`str` or `os.PathLike`): The folder.
            record_only (`bool`, *optional*, defaults to `False`): Accept a folder that keeps only the run's record
                (`RECORD_FILES`, with ``metrics.jsonl`` when present), such as the copy `scripts/run_progress.py
                --records` makes of a run whose weights are not kept; ``config`` is then ``{}`` when the folder has
                no ``config.json``.

        Raises:
            ValueError: if a required file is missing or malformed.
        """
        path = Path(path)
        if not path.is_dir():
            raise ValueError(f"{path} is not a directory: give the output_dir of training/train.py")
        required = RECORD_FILES if record_only else REQUIRED_TRAINING_FILES
        missing = [f for f in required if not (path / f).is_file()]
        if missing:
            raise ValueError(
                f"{path} is not a finished training output of training/train.py: missing {missing} "
                "(the final model, tokenizer, results.json and training_args.yaml are written when training ends)"
            )
        config: dict[str, Any] = {}
        if (path / "config.json").is_file():  # required unless record_only (checked above)
            config = json.loads((path / "config.json").read_text())
            if config.get("model_type") != "matrix_seq2seq":
                raise ValueError(
                    f"{path}/config.json has model_type {config.get('model_type')!r}, not 'matrix_seq2seq'"
                )
        results = json.loads((path / "results.json").read_text())
        for key in ("test_sets", "problem", "examples_seen", "steps", "test_size", "hardware"):
            if key not in results:
                raise ValueError(f"{path}/results.json has no {key!r}: was it written by training/train.py?")
        for name, row in results["test_sets"].items():
            absent = [accuracy_key(t) for t in TOLERANCES if accuracy_key(t) not in row]
            if absent:
                raise ValueError(f"{path}/results.json: test set {name!r} lacks {absent}")
        training_args = yaml.safe_load((path / "training_args.yaml").read_text()) or {}
        if not isinstance(training_args, dict):
            raise ValueError(f"{path}/training_args.yaml is not a mapping of training arguments")
        return cls(path=path, config=config, results=results, training_args=training_args, metrics=read_metrics(path))

    def training_sessions(self) -> list[float]:
        """Wall-clock seconds of each training session (a resumed run starts a new one), from ``metrics.jsonl``."""
        return training_sessions(self.metrics)

    def train_seconds(self, default: float = math.nan) -> float:
        """Wall-clock seconds of the whole run: its sessions added up, else the last session's (``results.json``)."""
        return sum(self.training_sessions()) or float(self.results.get("train_seconds_this_run", default))


def sanitized_training_args(training_args: dict[str, Any]) -> dict[str, Any]:
    """The training arguments without credential fields (``hub_token`` and any other ``*_token``)."""
    return {k: v for k, v in training_args.items() if not k.endswith("_token")}


def training_lineage(
    init_from: str | os.PathLike | None, run_args: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """What the model a run started from (``--init_from``) had itself been trained on, read from its folder.

    A training output directory or a published repository folder both hold ``results.json`` (and ``metrics.jsonl``
    for the wall time); a chain of ``--init_from`` runs adds up through ``examples_seen_total`` and
    ``train_seconds_total``, which publishing writes into the repository's ``results.json`` (`published_results`).

    A run republished into the folder it started from finds itself there: that folder's recorded ``init_from`` is then
    the lineage (counting the run twice is what a naive reading gives).

    Args:
        init_from (`str` or `os.PathLike`, *optional*): The ``init_from`` training argument.
        run_args (`dict`, *optional*): The training arguments of the run whose lineage this is; a folder published
            from the same arguments is that run itself.

    Returns:
        `dict` or `None`: `None` without `init_from`; else ``model`` (the path or id as given) and, when the folder
        holds a training record, ``examples_seen`` and ``train_seconds`` (everything that model had been trained
        on, its own ``init_from`` included) and ``hardware``.
    """
    if not init_from:
        return None
    lineage: dict[str, Any] = {"model": str(init_from)}
    try:
        prior = TrainingOutput.load(init_from)
    except ValueError:  # a snapshot of a run in progress, or a Hub id or folder whose training is unknown
        lineage.update(snapshot_lineage(init_from) or {})
        return lineage
    r = prior.results
    if run_args is not None and prior.training_args == sanitized_training_args(run_args):
        return r.get("init_from") or lineage  # the run itself, published there earlier
    own = r.get("init_from") or {}
    seconds = r.get("train_seconds_total")
    if seconds is None:
        seconds = prior.train_seconds(default=0.0) + float(own.get("train_seconds", 0.0))
    examples = lineage_examples(r)
    if examples is not None:  # else left out: published_lineage reads the folder again
        lineage["examples_seen"] = examples
    lineage.update(train_seconds=round(float(seconds), 1), hardware=r["hardware"])
    return lineage


def lineage_examples(results: dict[str, Any]) -> int | None:
    """Examples a model's whole lineage had seen, from its ``results.json``.

    Args:
        results (`dict`): A ``results.json``: a published folder records the total (``examples_seen_total``); a
            run folder records its own ``examples_seen`` and, if it started with ``--init_from``, its start's
            (``init_from.examples_seen``).

    Returns:
        `int | None`: The examples; `None` when the run started from a model whose examples were not recorded
        (an ``init_from`` without ``examples_seen``), rather than a count that leaves them out.
    """
    if "examples_seen_total" in results:
        return int(results["examples_seen_total"])
    start = results.get("init_from") or {}
    if start and "examples_seen" not in start:
        return None
    return int(results["examples_seen"]) + int(start.get("examples_seen", 0))


def published_lineage(output: TrainingOutput) -> dict[str, Any] | None:
    """The lineage of a training output: recorded by `train.py` at the end of training, else read now.

    A recorded lineage without what the model had seen (``examples_seen``: its folder held no record that `train.py`
    could read then) is read again from that folder, which may hold one now.
    """
    args = output.training_args
    recorded = output.results.get("init_from")
    if recorded and "examples_seen" not in recorded:
        again = training_lineage(recorded["model"], run_args=args)
        if again and "examples_seen" in again:
            return again
    return recorded or training_lineage(args.get("init_from"), run_args=args)


@dataclass(frozen=True)
class LineageTotals:
    """What a chain of ``--init_from`` runs had seen and taken in all, this run included.

    Attributes:
        start (`dict`): The lineage of the model this run started from (`published_lineage`): ``model``,
            ``examples_seen``, ``train_seconds``, ``hardware``.
        examples (`int`): Examples of the whole chain: this run's and its start's.
        train_seconds (`float | None`): Wall-clock seconds of the whole chain; `None` when this run's own time is
            not recorded (a total that left it out would pass for the whole).
    """

    start: dict[str, Any]
    examples: int
    train_seconds: float | None


def lineage_totals(output: TrainingOutput) -> LineageTotals | None:
    """The totals of the chain of runs a training output ends: one home for what ``results.json`` and the card say.

    Args:
        output (`TrainingOutput`): The run's output directory, read.

    Returns:
        `LineageTotals | None`: The totals; `None` when the run has no start or its start's examples are not
        recorded.
    """
    start = published_lineage(output)
    if not start or "examples_seen" not in start:
        return None
    seconds = output.train_seconds()
    total_seconds = round(seconds + start["train_seconds"], 1) if math.isfinite(seconds) else None
    return LineageTotals(start, int(output.results["examples_seen"]) + int(start["examples_seen"]), total_seconds)


def published_results(output: TrainingOutput) -> dict[str, Any]:
    """``results.json`` as published: the training output's, plus ``init_from`` and the totals of a chain of runs."""
    results = dict(output.results)
    lineage = published_lineage(output)
    if lineage:
        results["init_from"] = lineage
    totals = lineage_totals(output)
    if totals is not None:
        results["examples_seen_total"] = totals.examples
        if totals.train_seconds is not None:
            results["train_seconds_total"] = totals.train_seconds
    return results
