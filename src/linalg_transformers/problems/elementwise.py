"""Transposition and addition (paper sections 4.1 and 4.2; docs/problems.md#transpose, docs/problems.md#add).

Both have a unique answer, compared with the solution of the given input (d1: ``sum|P - T| / sum|T|``). Layouts,
solutions and checks: `linalg_transformers.verification` (`TransposeCheck`, `AddCheck`).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..verification import AddCheck, TransposeCheck
from .base import Problem

__all__ = ["Add", "Transpose"]


class Transpose(TransposeCheck, Problem):
    """Transpose an ``n x m`` matrix (``m = n`` unless ``rectangular``). Task token ``T``."""

    name = "transpose"
    task_token: ClassVar[str | None] = "T"
    supports_rectangular: ClassVar[bool] = True

    def _sample(self, rng: np.random.Generator, count: int, n: int, m: int) -> np.ndarray:
        return self.coefficients(rng, (count, n, m))


class Add(AddCheck, Problem):
    """Add two ``n x m`` matrices given side by side as one ``n x 2m`` input ``[A | B]``. Task token ``A``.

    The reference's ``matrix_sum``; the target is ``A + B`` (``n x m``).
    """

    name = "add"
    task_token: ClassVar[str | None] = "A"
    supports_rectangular: ClassVar[bool] = True

    def _sample(self, rng: np.random.Generator, count: int, n: int, m: int) -> np.ndarray:
        return self.coefficients(rng, (count, n, 2 * m))
