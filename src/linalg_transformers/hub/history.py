"""A released model's training history across sessions: the ``segments`` of its runs file, as a table and a plot.

A release run that continues across sessions (or from a snapshot, or from an earlier published copy) has one
training record per folder, and each published folder keeps only the last run's ``metrics.jsonl``. The runs file
(``model_cards/<name>.runs.yaml``) therefore lists every session's share of the lineage as a segment: which run,
when, on what hardware, at what rate, how many examples and how long, and the evaluation points it reached (test
loss, teacher-forced, per target token; greedy accuracy at 5% on the first fixed test problems). The card shows them
as a table (`format_history_table`), and publishing draws the whole curve from them (`plot_history`,
``training_history.png``).

```yaml
segments:
  - run: E                       # a name for the run (the notes say what it is)
    session: 2026-12-02 morning  # when
    hardware: Intel Xeon with AMX, one thread, bf16
    schedule: constant 5e-4
    examples: [0, 588800]        # examples seen by the lineage at the segment's start and end
    train_seconds: 3000          # wall clock of the segment's training loop
    test_problems: 1000          # how many fixed test problems the accuracies are on (default 1,000)
    evaluations:                 # [examples, test loss, accuracy at 5%]
      - [102400, 1.559, 0.009]
```
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "HISTORY_PLOT",
    "Evaluation",
    "Segment",
    "format_duration",
    "format_history_table",
    "parse_segments",
    "plot_history",
    "segment_from_metrics",
]

HISTORY_PLOT = "training_history.png"
"""The file publishing writes the whole curve to, beside ``training_curves.png`` (the last run's own)."""

SEGMENT_KEYS = {"run", "session", "hardware", "schedule", "examples", "train_seconds", "test_problems", "evaluations"}
"""Keys a segment may have; all but ``test_problems`` are required."""


@dataclass(frozen=True)
class Evaluation:
    """One evaluation point of a segment.

    Attributes:
        examples (`int`): Examples the lineage had seen.
        test_loss (`float`): Cross-entropy per target token, teacher-forced, on the evaluation problems.
        accuracy (`float`): Greedy accuracy at 5% on the segment's first ``test_problems`` fixed test problems, in
            [0, 1].
    """

    examples: int
    test_loss: float
    accuracy: float


@dataclass(frozen=True)
class Segment:
    """One session's share of a release lineage.

    Attributes:
        run (`str`): The run's name in the notes (``E``, ``G``).
        session (`str`): When it trained.
        hardware (`str`): The CPU or GPU, threads and precision.
        schedule (`str`): The learning rate over the segment (``constant 5e-4``, ``linear decay to 1e-5``).
        start (`int`), end (`int`): Examples the lineage had seen at the segment's start and end.
        train_seconds (`float`): Wall clock of the segment's training loop.
        evaluations (`tuple[Evaluation, ...]`): Its evaluation points, in order of examples.
        test_problems (`int`): Fixed test problems the accuracies are on.
    """

    run: str
    session: str
    hardware: str
    schedule: str
    start: int
    end: int
    train_seconds: float
    evaluations: tuple[Evaluation, ...] = field(default_factory=tuple)
    test_problems: int = 1000


def format_duration(seconds: float) -> str:
    """A wall-clock duration for a model card, e.g. ``"2 h 05 min"``, ``"12 min 07 s"`` or ``"41.3 s"``."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"a duration must be a finite number of seconds >= 0; got {seconds!r}")
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _number(value: Any, where: str, what: str) -> float:
    """A finite number from YAML, or a `ValueError` naming where it is."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{where}: {what} must be a finite number; got {value!r}")
    return float(value)


def _segment(entry: Any, where: str) -> Segment:
    """One segment of a runs file, checked."""
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: a segment is a mapping with keys {sorted(SEGMENT_KEYS)}; got {entry!r}")
    unknown, missing = sorted(set(entry) - SEGMENT_KEYS), sorted(SEGMENT_KEYS - set(entry) - {"test_problems"})
    if unknown or missing:
        raise ValueError(
            f"{where}: unknown key(s) {unknown}, missing key(s) {missing} (linalg_transformers.hub.history)"
        )
    texts = {key: entry[key] for key in ("run", "session", "hardware", "schedule")}
    for key, value in texts.items():
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{where}: {key!r} must be a non-empty text; got {value!r}")
    span = entry["examples"]
    if not (isinstance(span, list) and len(span) == 2):
        raise ValueError(f"{where}: 'examples' must be [start, end]; got {span!r}")
    start, end = (int(_number(x, where, "'examples'")) for x in span)
    if not 0 <= start < end:
        raise ValueError(f"{where}: 'examples' must grow from start to end; got {span!r}")
    seconds = _number(entry["train_seconds"], where, "'train_seconds'")
    problems = int(_number(entry.get("test_problems", 1000), where, "'test_problems'"))
    points = []
    for point in entry["evaluations"] or []:
        if not (isinstance(point, list) and len(point) == 3):
            raise ValueError(f"{where}: an evaluation is [examples, test loss, accuracy at 5%]; got {point!r}")
        examples, loss, accuracy = (_number(x, where, "an evaluation's entries") for x in point)
        if not (start < examples <= end and 0.0 <= accuracy <= 1.0 and loss >= 0.0):
            raise ValueError(
                f"{where}: evaluation {point!r} must lie in the segment's examples ({start:,} to {end:,}], with a "
                "non-negative loss and an accuracy in [0, 1]"
            )
        points.append(Evaluation(int(examples), loss, accuracy))
    if [p.examples for p in points] != sorted({p.examples for p in points}):
        raise ValueError(f"{where}: evaluations must be in increasing order of examples")
    return Segment(**texts, start=start, end=end, train_seconds=seconds, evaluations=tuple(points),
                   test_problems=problems)  # fmt: skip


def parse_segments(entries: Any, source: str) -> tuple[Segment, ...]:
    """The ``segments`` of a runs file, checked: each in the form of the module's example, in lineage order.

    Args:
        entries: The YAML value (a list of mappings, or `None`).
        source (`str`): The runs file, named in errors.

    Raises:
        ValueError: naming the segment and what is wrong with it.
    """
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise ValueError(f"{source}: 'segments' must be a list of segments")
    segments = tuple(_segment(entry, f"{source}, segment {i + 1}") for i, entry in enumerate(entries))
    for i, (before, after) in enumerate(zip(segments, segments[1:])):
        if after.start < before.start:
            raise ValueError(f"{source}, segment {i + 2}: segments must be in lineage order (their starts grow)")
    return segments


def segment_from_metrics(
    metrics: Sequence[dict[str, Any]],
    *,
    run: str,
    session: str,
    hardware: str,
    schedule: str,
    start: int,
    test_problems: int = 1000,
) -> dict[str, Any]:
    """A runs-file segment (the mapping of the module's example) from one run's ``metrics.jsonl`` rows.

    The run's own example counts are offset by ``start``, what the lineage had seen when the run began (a run
    continued with ``--init_from`` counts from 0), and its training time is its sessions' wall clock added up
    (`linalg_transformers.record.training_sessions`). The evaluation points are the rows with a test loss and an
    accuracy at 5% (``eval_loss``, ``eval_accuracy@0.05``), which `training/train.py` logs at each ``eval_steps``
    and at the end. The result goes through the same checks as a segment read from a runs file.

    Args:
        metrics (`Sequence[dict]`): The rows of the run's ``metrics.jsonl``, in order (`record.read_metrics`).
        run (`str`): The run's name in the notes.
        session (`str`): When it trained.
        hardware (`str`): The CPU or GPU, threads and precision.
        schedule (`str`): The learning rate over the run.
        start (`int`): Examples the lineage had seen before this run.
        test_problems (`int`, *optional*, defaults to 1000): Fixed test problems of the logged accuracies (the
            run's ``eval_size``).

    Returns:
        `dict`: The segment, ready for ``yaml.safe_dump`` into the runs file's ``segments``.

    Raises:
        ValueError: if the rows have no example counts or no training time, or the segment fails its checks.
    """
    from ..record import training_sessions
    from ..scoring import accuracy_key

    counts = [int(row["examples"]) for row in metrics if isinstance(row.get("examples"), int | float)]
    seconds = sum(training_sessions(metrics))
    if not counts or not seconds:
        raise ValueError("the metrics have no example counts or no wall_time: not a training/train.py run record")
    accuracy = f"eval_{accuracy_key(0.05)}"
    points: dict[int, list[float]] = {}
    for row in metrics:
        if "eval_loss" in row and accuracy in row:
            examples = start + int(row["examples"])
            points[examples] = [examples, round(float(row["eval_loss"]), 3), round(float(row[accuracy]), 4)]
    entry = {
        "run": run,
        "session": session,
        "hardware": hardware,
        "schedule": schedule,
        "examples": [start, start + max(counts)],
        "train_seconds": round(seconds),
        "test_problems": test_problems,
        "evaluations": [points[k] for k in sorted(points)],
    }
    _segment(entry, f"segment of run {run}")
    return entry


def format_history_table(segments: Sequence[Segment]) -> str:
    """The card's Markdown table: one row per segment, its last evaluation's loss and accuracy."""
    lines = [
        "| run | session | hardware | schedule | examples | training time | test loss | 5% tol. | test problems |",
        "|---|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for s in segments:
        last = s.evaluations[-1] if s.evaluations else None
        loss = f"{last.test_loss:.3f}" if last else ""
        accuracy = f"{100 * last.accuracy:.1f}%" if last else ""
        lines.append(
            f"| {s.run} | {s.session} | {s.hardware} | {s.schedule} | {s.start:,} → {s.end:,} "
            f"| {format_duration(s.train_seconds)} | {loss} | {accuracy} | {s.test_problems:,} |"
        )
    return "\n".join(lines)


def plot_history(segments: Sequence[Segment], path: str | os.PathLike) -> Path:
    """Draw the lineage's test loss and accuracy at 5% against examples, one series per run, into a PNG.

    Returns:
        `Path`: The file written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_run: dict[str, list[Evaluation]] = {}
    for segment in segments:
        by_run.setdefault(segment.run, []).extend(segment.evaluations)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for run, points in by_run.items():
        xs = [p.examples for p in points]
        ax1.plot(xs, [p.test_loss for p in points], marker=".", label=f"run {run}")
        ax2.plot(xs, [100 * p.accuracy for p in points], marker=".", label=f"run {run}")
    ax1.set(xlabel="examples seen (whole lineage)", ylabel="test loss (per target token)", title="test loss")
    ax2.set(xlabel="examples seen (whole lineage)", ylabel="accuracy at 5% (%)", ylim=(0, 100),
            title="greedy accuracy at 5% tolerance")  # fmt: skip
    for ax in (ax1, ax2):
        ax.legend()
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
