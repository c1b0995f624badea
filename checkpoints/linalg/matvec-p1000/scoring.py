"""Scoring: per-example relative errors turned into correct answers, accuracy summaries and accuracy tables.

The checks (`linalg_transformers.verification`, and the problems built on them) give each prediction a relative
error, infinite when the prediction is malformed. This module holds everything computed from those errors, once:

* the tolerances (`TOLERANCES`) and the rule ``correct iff 0 <= error < tolerance`` (`is_correct`);
* `Score`, the scored batch a problem's ``score`` returns: errors, the well-formed mask, which answers are correct
  at each tolerance, the accuracy, and per-task summaries for co-training;
* `AccuracySummary` (`summarize`), the figures of a set of errors, and its flat form (`AccuracySummary.metrics`,
  keys `accuracy_key`), the form of ``results.json``, the training logs and the ``matrix_accuracy`` metric;
* the labels and the Markdown table of reports: `tolerance_label`, `format_percent`, `format_accuracy_table`.

It is a flat module that imports only numpy and the standard library, so it travels with a model as Hub remote code
(the pipelines import it).

```python
>>> score = Score(errors=[0.001, 0.03, float("inf"), 0.2], well_formed=[True, True, False, True])
>>> score.accuracy
{0.05: 0.5, 0.02: 0.25, 0.01: 0.25, 0.005: 0.25}
>>> print(format_accuracy_table({"test": score.summary}))
| test set | 5% tol. | 2% tol. | 1% tol. | 0.5% tol. | well formed |
|---|---:|---:|---:|---:|---:|
| test | 50.00% | 25.00% | 25.00% | 25.00% | 75.00% |

```
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "MAIN_TOLERANCE",
    "TOLERANCES",
    "AccuracySummary",
    "Score",
    "accuracy_key",
    "format_accuracy_table",
    "format_percent",
    "is_correct",
    "summarize",
    "tolerance_label",
]

TOLERANCES: tuple[float, ...] = (0.05, 0.02, 0.01, 0.005)
"""The tolerances on the relative L1 error of F. Charton, "Linear algebra with transformers" (TMLR 2022): 5% (the
main one), 2%, 1% and 0.5%, those of every reference sweep."""

MAIN_TOLERANCE: float = TOLERANCES[0]
"""The paper's main tolerance, 5%: the accuracy a model is known by."""


# ------------------------------------------------------------------------------------------------- the rule
def is_correct(errors: np.ndarray | Sequence[float], tolerance: float) -> np.ndarray:
    """Whether each error passes: ``0 <= error < tolerance``, strictly, as in the paper.

    Args:
        errors (`np.ndarray` of shape `(n,)`): Relative errors (infinite for malformed predictions; NaN fails).
        tolerance (`float`): The tolerance, e.g. ``0.05``.

    Returns:
        `np.ndarray` of shape `(n,)`, bool.
    """
    e = np.asarray(errors, dtype=np.float64)
    return (e >= 0) & (e < tolerance)


def _tolerances(tolerances: Sequence[float]) -> tuple[float, ...]:
    """Tolerances as a tuple of floats.

    Raises:
        ValueError: if there are none, one repeats, or one is not a finite number above 0.
    """
    out = tuple(float(t) for t in tolerances)
    if not out:
        raise ValueError("give at least one tolerance, e.g. (0.05,)")
    bad = [t for t in out if not (0 < t < math.inf)]
    if bad:
        raise ValueError(f"tolerances must be finite numbers above 0; got {list(tolerances)!r}")
    if len(set(out)) != len(out):
        raise ValueError(f"tolerances repeat: {list(tolerances)!r}")
    return out


# ------------------------------------------------------------------------------------------------ labels
def tolerance_label(tolerance: float) -> str:
    """A tolerance as people read it: ``0.05`` -> ``"5%"``, ``0.005`` -> ``"0.5%"``."""
    return f"{100 * tolerance:g}%"


def accuracy_key(tolerance: float) -> str:
    """The metric name of the accuracy at a tolerance: ``0.05`` -> ``"accuracy@0.05"``."""
    return f"accuracy@{tolerance:g}"


def format_percent(share: float | None, digits: int = 2) -> str:
    """A share as a percentage: ``0.995`` -> ``"99.50%"``; ``None`` and NaN (undefined) -> ``"n/a"``.

    Args:
        share (`float`, *optional*): A share between 0 and 1.
        digits (`int`, *optional*, defaults to 2): Decimal places of the percentage.
    """
    if share is None or math.isnan(share):
        return "n/a"
    return f"{100 * share:.{digits}f}%"


# ---------------------------------------------------------------------------------------------- summaries
@dataclass(frozen=True)
class AccuracySummary:
    """The figures of a set of scored predictions.

    Attributes:
        num_examples (`int`): Predictions summarized (at least 1).
        accuracy (`dict[float, float]`): Tolerance -> share of correct predictions, in the order of the tolerances.
        well_formed (`float`): Share of well-formed predictions (finite matrices of the expected shape and task).
        mean_relative_error (`float`, *optional*): Mean error of the well-formed predictions; `None` if none is.
        median_relative_error (`float`, *optional*): Their median error; `None` if none is well formed.
    """

    num_examples: int
    accuracy: dict[float, float]
    well_formed: float
    mean_relative_error: float | None
    median_relative_error: float | None

    @property
    def tolerances(self) -> tuple[float, ...]:
        """The tolerances of `accuracy`, in order."""
        return tuple(self.accuracy)

    def metrics(self) -> dict[str, float]:
        """The flat form of the summary, a dict of floats.

        Keys: ``accuracy@<t>`` for each tolerance (`accuracy_key`), ``well_formed``, ``mean_relative_error`` and
        ``median_relative_error`` (NaN where `None`). The form of the rows of ``results.json``, of the evaluation
        logs of training and of the ``matrix_accuracy`` metric.
        """
        out = {accuracy_key(t): share for t, share in self.accuracy.items()}
        out["well_formed"] = self.well_formed
        for key, value in (
            ("mean_relative_error", self.mean_relative_error),
            ("median_relative_error", self.median_relative_error),
        ):
            out[key] = math.nan if value is None else value
        return out


def summarize(
    errors: np.ndarray | Sequence[float],
    well_formed: np.ndarray | Sequence[bool],
    tolerances: Sequence[float] = TOLERANCES,
) -> AccuracySummary:
    """The accuracy summary of a set of errors.

    Args:
        errors (`np.ndarray` of shape `(n,)`): Relative errors (infinite for malformed predictions).
        well_formed (`np.ndarray` of shape `(n,)`, bool): Which predictions were well formed.
        tolerances (`Sequence[float]`, *optional*, defaults to `TOLERANCES`): The tolerances of the accuracy.

    Returns:
        `AccuracySummary`.

    Raises:
        ValueError: for an empty set (its accuracy is undefined), or shapes that differ.
    """
    e, ok = _errors_and_mask(errors, well_formed)
    if not e.size:
        raise ValueError("no predictions to summarize: the accuracy of an empty set is undefined")
    good = e[ok]
    return AccuracySummary(
        num_examples=int(e.size),
        accuracy={t: float(is_correct(e, t).mean()) for t in _tolerances(tolerances)},
        well_formed=float(ok.mean()),
        mean_relative_error=float(good.mean()) if good.size else None,
        median_relative_error=float(np.median(good)) if good.size else None,
    )


def _errors_and_mask(errors: Any, well_formed: Any) -> tuple[np.ndarray, np.ndarray]:
    """Errors as float64 and the well-formed mask as bool, both of one shape `(n,)`."""
    e = np.asarray(errors, dtype=np.float64)
    ok = np.asarray(well_formed, dtype=bool)
    if e.ndim != 1 or e.shape != ok.shape:
        raise ValueError(f"errors and well_formed must be vectors of one length; got shapes {e.shape} and {ok.shape}")
    return e, ok


# ------------------------------------------------------------------------------------------- a scored batch
@dataclass(frozen=True, eq=False)
class Score:
    """A batch of scored predictions: what a problem's ``score`` returns.

    Args:
        errors (`np.ndarray` of shape `(n,)`): Relative error of each prediction, infinite where malformed.
        well_formed (`np.ndarray` of shape `(n,)`, bool): Which predictions were well formed.
        tolerances (`Sequence[float]`, *optional*, defaults to `TOLERANCES`): The tolerances of `correct` and
            `accuracy`.
        tasks (`Sequence[str]`, *optional*): The task token of each example (co-training): `by_task` and `metrics`
            then summarize each task too.
        task_tokens (`Sequence[str]`, *optional*): The order of the per-task summaries; by default the order in
            which the tasks first appear in `tasks`.

    Raises:
        ValueError: if the lengths differ, or for bad tolerances.
    """

    errors: np.ndarray = field(repr=False)
    well_formed: np.ndarray = field(repr=False)
    tolerances: tuple[float, ...] = TOLERANCES
    tasks: tuple[str, ...] | None = field(default=None, repr=False)
    task_tokens: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        e, ok = _errors_and_mask(self.errors, self.well_formed)
        object.__setattr__(self, "errors", e)
        object.__setattr__(self, "well_formed", ok)
        object.__setattr__(self, "tolerances", _tolerances(self.tolerances))
        if self.tasks is not None:
            tasks = tuple(str(t) for t in self.tasks)
            if len(tasks) != len(e):
                raise ValueError(f"got {len(tasks)} tasks for {len(e)} scored predictions")
            object.__setattr__(self, "tasks", tasks)
            object.__setattr__(self, "task_tokens", tuple(self.task_tokens) or tuple(dict.fromkeys(tasks)))

    def __len__(self) -> int:
        return len(self.errors)

    @property
    def correct(self) -> dict[float, np.ndarray]:
        """Tolerance -> whether each prediction is correct at it (`is_correct`), a bool array of shape `(n,)`."""
        return {t: is_correct(self.errors, t) for t in self.tolerances}

    @property
    def accuracy(self) -> dict[float, float]:
        """Tolerance -> share of correct predictions.

        Raises:
            ValueError: for an empty batch (its accuracy is undefined).
        """
        return self.summary.accuracy

    @property
    def summary(self) -> AccuracySummary:
        """The `AccuracySummary` of the whole batch.

        Raises:
            ValueError: for an empty batch.
        """
        return summarize(self.errors, self.well_formed, self.tolerances)

    def by_task(self) -> dict[str, AccuracySummary]:
        """Task token -> the summary of that task's examples, for the tasks present; empty without `tasks`."""
        if self.tasks is None:
            return {}
        tasks = np.asarray(self.tasks)
        out = {}
        for token in self.task_tokens:
            sel = tasks == token
            if sel.any():
                out[token] = summarize(self.errors[sel], self.well_formed[sel], self.tolerances)
        return out

    def metrics(self) -> dict[str, float]:
        """The flat form (`AccuracySummary.metrics`) of the batch, then of each task, prefixed by its token.

        A co-training batch adds ``"E/accuracy@0.05"`` and the like for each task present.

        Raises:
            ValueError: for an empty batch.
        """
        out = self.summary.metrics()
        for token, summary in self.by_task().items():
            out.update({f"{token}/{key}": value for key, value in summary.metrics().items()})
        return out


# ------------------------------------------------------------------------------------------------- the table
def format_accuracy_table(
    rows: Mapping[str, Mapping[str, Any] | AccuracySummary], tolerances: Sequence[float] = TOLERANCES
) -> str:
    """A Markdown table: one row per test set, the accuracy (%) at each tolerance, and the share well formed.

    Args:
        rows (`Mapping[str, Mapping[str, float] | AccuracySummary]`): Test-set name -> its summary, or its flat
            form (`AccuracySummary.metrics`, as in ``results.json``; ``well_formed`` may be absent).
        tolerances (`Sequence[float]`, *optional*, defaults to `TOLERANCES`): The columns.

    Returns:
        `str`: the table, without a final newline.
    """
    head = "| test set | " + " | ".join(f"{tolerance_label(t)} tol." for t in tolerances) + " | well formed |"
    lines = [head, "|---|" + "---:|" * (len(tolerances) + 1)]
    for name, row in rows.items():
        m = row.metrics() if isinstance(row, AccuracySummary) else row
        cells = [format_percent(m[accuracy_key(t)]) for t in tolerances]
        cells.append(format_percent(m.get("well_formed")))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
