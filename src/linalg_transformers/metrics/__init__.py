"""Evaluation metrics shipped with the package, as `evaluate` modules (``metrics/<name>/<name>.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["MATRIX_ACCURACY_PATH", "load_matrix_accuracy"]

MATRIX_ACCURACY_PATH = Path(__file__).resolve().parent / "matrix_accuracy"
"""Folder of the ``matrix_accuracy`` evaluate module (``evaluate.load(str(MATRIX_ACCURACY_PATH))``)."""


def load_matrix_accuracy(**kwargs: Any) -> Any:
    """Load the ``matrix_accuracy`` metric from the package, offline.

    Args:
        **kwargs: Passed to ``evaluate.load`` (e.g. ``experiment_id`` for concurrent evaluations).

    Returns:
        `evaluate.EvaluationModule`: call ``.compute(predictions=..., references=..., problem=...)``.
    """
    import evaluate

    return evaluate.load(str(MATRIX_ACCURACY_PATH), **kwargs)
